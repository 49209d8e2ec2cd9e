#include "evaluators/metrics/VqaEval.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "evaluators/metrics/Utf8.h"
#include "framework/core/Error.h"

namespace prunelab::evaluators {

namespace {

// The 21 characters vqaEval.processPunctuation handles (not ' : or .), in the script's order.
constexpr std::string_view kPunctuation = ";/[]\"{}()=+\\_-><@`,?!";

// vqaEval.py allows at most this many period deletions: re.UNICODE (== 32) lands in the count slot.
constexpr int kMaxPeriodDeletions = 32;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// re.search(r"(\d)(\,)(\d)", text) != None
bool hasDigitCommaDigit(std::string_view text) {
  for (std::size_t i = 1; i + 1 < text.size(); ++i) {
    if (text[i] == ',' && isDigit(text[i - 1]) && isDigit(text[i + 1])) {
      return true;
    }
  }
  return false;
}

const std::unordered_map<std::string_view, std::string_view>& numberWords() {
  static const std::unordered_map<std::string_view, std::string_view> map = {
      {"none", "0"}, {"zero", "0"}, {"one", "1"},   {"two", "2"},   {"three", "3"}, {"four", "4"},
      {"five", "5"}, {"six", "6"},  {"seven", "7"}, {"eight", "8"}, {"nine", "9"},  {"ten", "10"}};
  return map;
}

// vqaEval.py's contraction map, all 120 entries in the script's order. Keys with capitals
// ("Im", "Ive", ...) can never match because the words are lower-cased first; they are kept so the
// table stays a faithful copy of the reference data.
const std::unordered_map<std::string_view, std::string_view>& contractions() {
  // clang-format off
  static const std::unordered_map<std::string_view, std::string_view> map = {
    {"aint", "ain't"}, {"arent", "aren't"}, {"cant", "can't"}, {"couldve", "could've"},
    {"couldnt", "couldn't"}, {"couldn'tve", "couldn't've"}, {"couldnt've", "couldn't've"},
    {"didnt", "didn't"}, {"doesnt", "doesn't"}, {"dont", "don't"}, {"hadnt", "hadn't"},
    {"hadnt've", "hadn't've"}, {"hadn'tve", "hadn't've"}, {"hasnt", "hasn't"}, {"havent", "haven't"},
    {"hed", "he'd"}, {"hed've", "he'd've"}, {"he'dve", "he'd've"}, {"hes", "he's"}, {"howd", "how'd"},
    {"howll", "how'll"}, {"hows", "how's"}, {"Id've", "I'd've"}, {"I'dve", "I'd've"}, {"Im", "I'm"},
    {"Ive", "I've"}, {"isnt", "isn't"}, {"itd", "it'd"}, {"itd've", "it'd've"}, {"it'dve", "it'd've"},
    {"itll", "it'll"}, {"let's", "let's"}, {"maam", "ma'am"}, {"mightnt", "mightn't"},
    {"mightnt've", "mightn't've"}, {"mightn'tve", "mightn't've"}, {"mightve", "might've"},
    {"mustnt", "mustn't"}, {"mustve", "must've"}, {"neednt", "needn't"}, {"notve", "not've"},
    {"oclock", "o'clock"}, {"oughtnt", "oughtn't"}, {"ow's'at", "'ow's'at"}, {"'ows'at", "'ow's'at"},
    {"'ow'sat", "'ow's'at"}, {"shant", "shan't"}, {"shed've", "she'd've"}, {"she'dve", "she'd've"},
    {"she's", "she's"}, {"shouldve", "should've"}, {"shouldnt", "shouldn't"},
    {"shouldnt've", "shouldn't've"}, {"shouldn'tve", "shouldn't've"}, {"somebody'd", "somebodyd"},
    {"somebodyd've", "somebody'd've"}, {"somebody'dve", "somebody'd've"}, {"somebodyll", "somebody'll"},
    {"somebodys", "somebody's"}, {"someoned", "someone'd"}, {"someoned've", "someone'd've"},
    {"someone'dve", "someone'd've"}, {"someonell", "someone'll"}, {"someones", "someone's"},
    {"somethingd", "something'd"}, {"somethingd've", "something'd've"},
    {"something'dve", "something'd've"}, {"somethingll", "something'll"}, {"thats", "that's"},
    {"thered", "there'd"}, {"thered've", "there'd've"}, {"there'dve", "there'd've"},
    {"therere", "there're"}, {"theres", "there's"}, {"theyd", "they'd"}, {"theyd've", "they'd've"},
    {"they'dve", "they'd've"}, {"theyll", "they'll"}, {"theyre", "they're"}, {"theyve", "they've"},
    {"twas", "'twas"}, {"wasnt", "wasn't"}, {"wed've", "we'd've"}, {"we'dve", "we'd've"},
    {"weve", "we've"}, {"werent", "weren't"}, {"whatll", "what'll"}, {"whatre", "what're"},
    {"whats", "what's"}, {"whatve", "what've"}, {"whens", "when's"}, {"whered", "where'd"},
    {"wheres", "where's"}, {"whereve", "where've"}, {"whod", "who'd"}, {"whod've", "who'd've"},
    {"who'dve", "who'd've"}, {"wholl", "who'll"}, {"whos", "who's"}, {"whove", "who've"},
    {"whyll", "why'll"}, {"whyre", "why're"}, {"whys", "why's"}, {"wont", "won't"},
    {"wouldve", "would've"}, {"wouldnt", "wouldn't"}, {"wouldnt've", "wouldn't've"},
    {"wouldn'tve", "wouldn't've"}, {"yall", "y'all"}, {"yall'll", "y'all'll"}, {"y'allll", "y'all'll"},
    {"yall'd've", "y'all'd've"}, {"y'alld've", "y'all'd've"}, {"y'all'dve", "y'all'd've"},
    {"youd", "you'd"}, {"youd've", "you'd've"}, {"you'dve", "you'd've"}, {"youll", "you'll"},
    {"youre", "you're"}, {"youve", "you've"},
  };
  // clang-format on
  return map;
}

}  // namespace

std::string vqaCleanAnswer(std::string_view answer) {
  std::string replaced(answer);
  for (char& c : replaced) {
    if (c == '\n' || c == '\t') {
      c = ' ';
    }
  }
  return pythonStrip(replaced);
}

std::string vqaProcessPunctuation(std::string_view text) {
  // Every decision looks at the original input, not at the partially rewritten string.
  const bool digitCommaDigit = hasDigitCommaDigit(text);
  bool deleteChar[128] = {};
  for (char p : kPunctuation) {
    const bool touchesSpace = text.find(std::string{p, ' '}) != std::string_view::npos ||
                              text.find(std::string{' ', p}) != std::string_view::npos;
    deleteChar[static_cast<unsigned char>(p)] = touchesSpace || digitCommaDigit;
  }
  std::string punctuated;
  punctuated.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 128 && kPunctuation.find(c) != std::string_view::npos) {
      if (!deleteChar[u]) {
        punctuated.push_back(' ');
      }
    } else {
      punctuated.push_back(c);
    }
  }
  // re.sub("(?!<=\d)(\.)(?!\d)", "", s, 32): the first group is a (buggy) look-ahead that always
  // passes, so this deletes up to 32 periods that are not followed by a digit, left to right.
  std::string out;
  out.reserve(punctuated.size());
  int deleted = 0;
  for (std::size_t i = 0; i < punctuated.size(); ++i) {
    const char c = punctuated[i];
    const bool nextIsDigit = i + 1 < punctuated.size() && isDigit(punctuated[i + 1]);
    if (c == '.' && !nextIsDigit && deleted < kMaxPeriodDeletions) {
      ++deleted;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string vqaProcessDigitArticle(std::string_view text) {
  const std::string lowered = pythonLower(text);
  std::string out;
  for (std::string_view word : pythonSplit(lowered)) {
    const auto number = numberWords().find(word);
    if (number != numberWords().end()) {
      word = number->second;
    }
    if (word == "a" || word == "an" || word == "the") {
      continue;
    }
    const auto contraction = contractions().find(word);
    if (contraction != contractions().end()) {
      word = contraction->second;
    }
    if (!out.empty()) {
      out.push_back(' ');
    }
    out.append(word);
  }
  return out;
}

std::string vqaNormalizeAnswer(std::string_view text) { return vqaProcessDigitArticle(vqaProcessPunctuation(text)); }

double vqaQuestionAccuracy(std::string_view prediction, const std::vector<std::string>& gtAnswers) {
  PL_CHECK(!gtAnswers.empty(),
           "VQA accuracy needs the ground-truth answers of the question, but the list is empty; "
           "check that the annotation file was loaded and matched to this question id");
  std::vector<std::string> gts;
  gts.reserve(gtAnswers.size());
  for (const std::string& answer : gtAnswers) {
    gts.push_back(vqaCleanAnswer(answer));
  }
  std::string pred = vqaCleanAnswer(prediction);
  bool allIdentical = true;
  for (const std::string& gt : gts) {
    allIdentical = allIdentical && gt == gts.front();
  }
  if (!allIdentical) {
    for (std::string& gt : gts) {
      gt = vqaNormalizeAnswer(gt);
    }
    pred = vqaNormalizeAnswer(pred);
  }
  std::size_t matches = 0;
  for (const std::string& gt : gts) {
    matches += gt == pred ? 1 : 0;
  }
  // Leave-one-out: dropping GT i removes one match exactly when GT i itself matched.
  double sum = 0.0;
  for (const std::string& gt : gts) {
    const std::size_t others = matches - (gt == pred ? 1 : 0);
    const double acc = static_cast<double>(others) / 3.0;
    sum += acc < 1.0 ? acc : 1.0;
  }
  return sum / static_cast<double>(gts.size());
}

double pythonRound(double value, int digits) {
  // printf is correctly rounded on the exact binary value with ties to even, as CPython's round().
  char buffer[512];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return std::strtod(buffer, nullptr);
}

double VqaAccuracyAggregator::add(const VqaQuestion& question) {
  PL_CHECK(perQuestion_.count(question.questionId) == 0,
           "question id {} was added twice to the VQA accuracy; each question must be scored once "
           "(deduplicate the result file)",
           question.questionId);
  PL_CHECK(!question.answers.empty(),
           "question {} has no ground-truth answers; VQA accuracy needs the annotation's answers", question.questionId);
  const double acc = vqaQuestionAccuracy(question.prediction, question.answers);
  overall_.total += acc;
  ++overall_.count;
  Sum& byAnswer = perAnswerType_[question.answerType];
  byAnswer.total += acc;
  ++byAnswer.count;
  Sum& byQuestion = perQuestionType_[question.questionType];
  byQuestion.total += acc;
  ++byQuestion.count;
  perQuestion_[question.questionId] = pythonRound(100.0 * acc, 2);
  return acc;
}

VqaAccuracy VqaAccuracyAggregator::result() const {
  PL_CHECK(overall_.count > 0, "no questions were scored, so VQA accuracy is undefined; add results first");
  const auto percent = [](const Sum& sum) {
    return pythonRound(100.0 * sum.total / static_cast<double>(sum.count), 2);
  };
  VqaAccuracy out;
  out.overall = percent(overall_);
  for (const auto& [type, sum] : perAnswerType_) {
    out.perAnswerType[type] = percent(sum);
  }
  for (const auto& [type, sum] : perQuestionType_) {
    out.perQuestionType[type] = percent(sum);
  }
  out.perQuestion = perQuestion_;
  out.numQuestions = overall_.count;
  return out;
}

VqaAccuracy evaluateVqa(const std::vector<VqaQuestion>& questions) {
  VqaAccuracyAggregator aggregator;
  for (const VqaQuestion& question : questions) {
    aggregator.add(question);
  }
  return aggregator.result();
}

double gqaAccuracy(const std::vector<std::string>& predictions, const std::vector<std::string>& answers) {
  PL_CHECK(predictions.size() == answers.size(),
           "GQA accuracy got {} predictions but {} answers; pass one answer per prediction", predictions.size(),
           answers.size());
  PL_CHECK(!predictions.empty(), "GQA accuracy of an empty result list is undefined; score at least one question");
  std::size_t correct = 0;
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    correct += vqaNormalizeAnswer(predictions[i]) == vqaNormalizeAnswer(answers[i]) ? 1 : 0;
  }
  return static_cast<double>(correct) / static_cast<double>(predictions.size()) * 100.0;
}

}  // namespace prunelab::evaluators
