#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/data/StandardFormats.h"

namespace prunelab::data {

/// What text tasks need from a vision-language data source besides its splits: its tokenizer (to
/// encode prompts and decode generated ids), the class names of its zero-shot split, and the
/// references of its evaluation splits in the standard formats. A DataSource that has text
/// implements it too; evaluators and models reach it by dynamic_cast<const data::TextSource*>, so
/// no plugin depends on another plugin.
class TextSource {
 public:
  virtual ~TextSource() = default;
  /// Token ids of `text` in the source's vocabulary (unknown words map to its unknown token),
  /// optionally framed by its begin/end tokens; with maxLen >= 0 words are cut so the result
  /// (framing included) has at most maxLen ids. Not padded.
  virtual std::vector<std::int64_t> encodeText(const std::string& text, std::int64_t maxLen = -1,
                                               bool addBos = false, bool addEos = false) const = 0;
  /// Text of token ids: stops at the first end token, skips padding and begin tokens.
  virtual std::string decodeText(const std::vector<std::int64_t>& ids) const = 0;
  /// Whether every word of `text` is in the vocabulary (prompt checks before expensive work).
  virtual bool knowsAllWords(const std::string& text) const = 0;
  /// Length T of the text fields of the source's batches (padding included).
  virtual std::int64_t maxTextLength() const = 0;
  /// Class names of the zero-shot split, in label order.
  virtual std::vector<std::string> classNames() const = 0;
  /// The VQAv2-form questions (10 answers each) of scene split `split`, in the order of its
  /// question split's examples ("vqa_<split>" for FashionScenes).
  virtual std::vector<VqaQuestion> vqaQuestions(const std::string& split) const = 0;
  /// The COCO-form images and reference captions of scene split `split`, images in the split's
  /// example order.
  virtual CocoCaptions captionReferences(const std::string& split) const = 0;
};

}  // namespace prunelab::data
