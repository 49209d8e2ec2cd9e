// expandSweep (declared in Composer.h): Hydra's BasicSweeper expansion of sweep overrides.
#include <cmath>
#include <cstdlib>
#include <regex>

#include "framework/config/Composer.h"
#include "framework/config/Override.h"
#include "framework/config/ValueParser.h"
#include "framework/core/Error.h"

namespace prunelab::config {

namespace {

constexpr std::size_t kMaxJobs = 1000000;

struct Number {
  bool isInt = true;
  long long i = 0;
  double d = 0;
  double value() const { return isInt ? static_cast<double>(i) : d; }
};

Number parseNumber(const std::string& raw, const std::string& text) {
  std::string s;
  for (char c : ValueParser::trim(raw))
    if (c != '_') s += c;
  static const std::regex intRe(R"(^[+-]?[0-9]+$)");
  Number n;
  if (std::regex_match(s, intRe)) {
    n.i = std::stoll(s);
    return n;
  }
  char* end = nullptr;
  n.isInt = false;
  n.d = std::strtod(s.c_str(), &end);
  PL_CHECK(!s.empty() && *end == '\0', "Bad sweep '{}': range() needs numbers, got '{}'. Example: k=range(0,10,2)",
           text, raw);
  return n;
}

// Floats with 12 significant digits, so 0+2*3.3 prints 6.6 rather than 6.6000000000000005; always
// with a '.' or exponent so the override reads back as a float.
std::string formatFloat(double v) {
  std::string s = fmt::format("{:.12g}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// range(stop) | range(start, stop) | range(start, stop, step), also with start=/stop=/step= names.
std::vector<std::string> rangeValues(const std::string& args, const std::string& text) {
  std::vector<std::string> positional;
  std::string named[3];
  const char* names[3] = {"start", "stop", "step"};
  for (const auto& piece : ValueParser::splitTopLevel(args, ',')) {
    const std::string a = ValueParser::trim(piece);
    const std::size_t eq = a.find('=');
    if (eq == std::string::npos) {
      positional.push_back(a);
      continue;
    }
    const std::string name = ValueParser::trim(a.substr(0, eq));
    bool known = false;
    for (int k = 0; k < 3; ++k)
      if (name == names[k]) {
        named[k] = a.substr(eq + 1);
        known = true;
      }
    PL_CHECK(known, "Bad sweep '{}': range() has no argument '{}'; use range(start, stop, step)", text, name);
  }
  PL_CHECK(
      positional.size() + (named[0].empty() ? 0 : 1) + (named[1].empty() ? 0 : 1) + (named[2].empty() ? 0 : 1) >= 1 &&
          positional.size() <= 3,
      "Bad sweep '{}': expected range(stop), range(start, stop) or range(start, stop, step)", text);
  std::string parts[3] = {"0", "", "1"};
  if (positional.size() == 1) {
    parts[1] = positional[0];
  } else {
    for (std::size_t k = 0; k < positional.size(); ++k) parts[k] = positional[k];
  }
  for (int k = 0; k < 3; ++k)
    if (!named[k].empty()) parts[k] = named[k];
  PL_CHECK(!parts[1].empty(), "Bad sweep '{}': range() needs a stop value, e.g. range(0,10,2)", text);
  const Number start = parseNumber(parts[0], text), stop = parseNumber(parts[1], text),
               step = parseNumber(parts[2], text);
  PL_CHECK(step.value() != 0, "Bad sweep '{}': the step of range() must not be 0", text);
  std::vector<std::string> out;
  if (start.isInt && stop.isInt && step.isInt) {
    for (long long v = start.i; step.i > 0 ? v < stop.i : v > stop.i; v += step.i) {
      out.push_back(std::to_string(v));
      PL_CHECK(out.size() <= kMaxJobs, "Bad sweep '{}': range() has more than {} values", text, kMaxJobs);
    }
    return out;
  }
  // r[i] = start + i*step (not a running sum, which drifts), while r < stop (r > stop going down).
  for (std::size_t i = 0;; ++i) {
    const double v = start.value() + static_cast<double>(i) * step.value();
    if (step.value() > 0 ? !(v < stop.value()) : !(v > stop.value())) break;
    out.push_back(formatFloat(v));
    PL_CHECK(out.size() <= kMaxJobs, "Bad sweep '{}': range() has more than {} values", text, kMaxJobs);
  }
  return out;
}

// The values of one override's right-hand side: several for a sweep, one otherwise.
std::vector<std::string> sweepValues(const std::string& value, const std::string& text) {
  const auto pieces = ValueParser::splitTopLevel(value, ',');
  if (pieces.size() > 1) {
    std::vector<std::string> out;
    for (const auto& p : pieces) {
      out.push_back(ValueParser::trim(p));
      PL_CHECK(!out.back().empty(), "Bad sweep '{}': empty element between commas. Write k=a,b,c", text);
    }
    return out;
  }
  static const std::regex fn(R"(^\s*([A-Za-z_]+)\s*\(([\s\S]*)\)\s*$)");
  std::smatch m;
  const std::string v = value;
  if (std::regex_match(v, m, fn)) {
    const std::string name = m[1], args = m[2];
    if (name == "range") return rangeValues(args, text);
    if (name == "choice") {
      std::vector<std::string> out;
      for (const auto& p : ValueParser::splitTopLevel(args, ',')) {
        out.push_back(ValueParser::trim(p));
        PL_CHECK(!out.back().empty(), "Bad sweep '{}': empty element in choice(). Write k=choice(a,b)", text);
      }
      return out;
    }
    PL_CHECK(name != "glob" && name != "interval" && name != "sort" && name != "shuffle" && name != "tag",
             "Sweep function {}() in '{}' is not supported; list the values instead (k=a,b,c), or use range() or "
             "choice()",
             name, text);
  }
  return {value};
}

}  // namespace

std::vector<std::vector<std::string>> expandSweep(const std::vector<std::string>& overrides) {
  struct Axis {
    std::string keyElement;
    std::vector<std::string> items;
  };
  std::vector<Axis> axes;
  for (const auto& text : overrides) {
    const Override o = Override::parse(text);
    std::vector<std::string> items;
    if (!o.value) {
      items.push_back(text);
    } else {
      for (const auto& v : sweepValues(*o.value, text)) items.push_back(o.keyElement() + "=" + v);
    }
    PL_CHECK(!items.empty(), "Sweep '{}' has no values (is the range empty?)", text);
    // A key given twice keeps its first position; the later values win (the command line's last word).
    bool replaced = false;
    for (auto& a : axes)
      if (a.keyElement == o.keyElement()) {
        a.items = items;
        replaced = true;
      }
    if (!replaced) axes.push_back({o.keyElement(), items});
  }
  std::size_t total = 1;
  for (const auto& a : axes) {
    total *= a.items.size();
    PL_CHECK(total <= kMaxJobs, "The sweep has more than {} jobs; split it", kMaxJobs);
  }
  std::vector<std::vector<std::string>> jobs;
  jobs.reserve(total);
  for (std::size_t j = 0; j < total; ++j) {
    std::vector<std::string> job(axes.size());
    std::size_t rest = j;
    for (std::size_t k = axes.size(); k-- > 0;) {  // last key varies fastest
      job[k] = axes[k].items[rest % axes[k].items.size()];
      rest /= axes[k].items.size();
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace prunelab::config
