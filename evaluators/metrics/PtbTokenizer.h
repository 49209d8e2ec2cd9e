#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace prunelab::evaluators {

// A C++ emulation of the COCO caption tokenizer: pycocoevalcap's PTBTokenizer wrapper runs
//   java -cp stanford-corenlp-3.4.1.jar edu.stanford.nlp.process.PTBTokenizer -preserveLines -lowerCase
// on one caption per line and then drops the tokens  '' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;
//
// What it does (the rules of CoreNLP 3.4.1's PTBLexer, default options, chosen by longest match with
// the lexer's rule order breaking ties, trailing context counted in the match length):
//  - splits punctuation off words; "don't" -> do n't, "can't" -> ca n't, "it's" -> it 's,
//    "cannot" -> can not, "gonna" -> gon na, possessive "dogs'" -> dogs ';
//  - keeps hyphenated words, numbers ("3.5", "1,000", "-5"), slash compounds ("and/or", "1/2"),
//    o'clock-style words, abbreviations and acronyms with their period ("mr.", "u.s.", "a.m.",
//    a single letter before a period: "a."), "etc." (plus a separate "." that is dropped);
//  - maps ( ) [ ] { } to -LRB- -RRB- -LSB- -RSB- -LCB- -RCB-, en/em dashes and "---" to "--",
//    "..."/U+2026 to "...", quotes to `` '' ` ' (LaTeX style), &amp; to &, ½ to 1/2, ¢ to cents, £ to #,
//    € to $;
//  - lower-cases every token *after* escaping, like the jar. So a parenthesis comes out as "-lrb-",
//    which the (upper-case) drop list does not remove: "-lrb-"/"-rrb-"/"-lsb-"/... survive, exactly as
//    in pycocoevalcap;
//  - deletes characters the lexer cannot tokenize: control characters, code points above U+FFFF
//    (emoji: the lexer sees UTF-16 surrogates), unassigned punctuation of the General Punctuation block.
//
// Also emulated: SGML-like tags ("<unk>", "</s>" stay one token), e-mail addresses, http(s) and
// www./.com URLs, phone numbers and fractions (inner spaces become U+00A0, as the lexer's normalizeSpace).
//
// Checked against the real thing: CoreNLP 3.4.1's PTBLexer built from the v3.4.1 tag gives identical
// tokens on 120,000 fuzzed caption-like lines (words, contractions, abbreviations, numbers, URLs, tags,
// ASCII and Unicode punctuation, emoji, accented and CJK text). Where it may still differ from the jar:
//  - not emulated: HTML character entities other than &amp; &lt; &gt; &mdash; &ndash; &nbsp;, the
//    &aacute;-style letters, and one malformed Asian-emoticon pattern of the lexer;
//  - Unicode classes are approximated: every non-ASCII code point not listed as space, punctuation,
//    symbol or currency counts as a letter (Java's Character.isLetter is exact); only ASCII and a few
//    common script digits count as digits; lower-casing covers ASCII, Latin-1, Latin Extended-A,
//    Greek and Cyrillic (Java lower-cases everything);
//  - line breaks inside a caption (\r, \v, \f, U+2028, U+2029; pycocoevalcap only replaces \n) are
//    treated as spaces. The jar ends the line there, which misaligns every later caption in
//    pycocoevalcap; U+0085 becomes "..." as in the lexer;
//  - invalid UTF-8 bytes are kept inside tokens as letters (the jar would decode them to U+FFFD and
//    delete them). Nothing ever throws.

/// The jar's tokens for one caption (-lowerCase applied), before the punctuation filter.
std::vector<std::string> ptbTokens(std::string_view caption);

/// True for the tokens pycocoevalcap removes after tokenizing ('' ' `` ` -LRB- ... ; compared exactly).
bool isCocoPunctuation(std::string_view token);

/// A caption as pycocoevalcap's PTBTokenizer.tokenize returns it: tokens without the dropped
/// punctuation, joined by single spaces ("" for an empty caption).
std::string cocoTokenize(std::string_view caption);

}  // namespace prunelab::evaluators
