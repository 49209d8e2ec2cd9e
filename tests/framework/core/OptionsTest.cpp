#include <gtest/gtest.h>

#include "framework/core/Options.h"
#include "framework/core/Registry.h"
#include "framework/core/Suggest.h"

namespace prunelab {
namespace {

struct Inner {
  int depth = 2;
  template <class V>
  void visit(V& v) {
    v(depth, "depth", "nesting depth");
  }
};

struct Opts {
  double sparsity = 0.5;
  std::string allocation = "uniform";
  bool verbose = false;
  std::int64_t count = 3;
  std::vector<std::string> targets = {"*.blocks.*"};
  Inner inner;
  template <class V>
  void visit(V& v) {
    v(sparsity, "sparsity", "fraction removed");
    v(allocation, "allocation", "how");
    v(verbose, "verbose", "talk");
    v(count, "count", "how many");
    v(targets, "targets", "globs");
    v(inner, "inner", "nested");
  }
  void validate() const { PL_CHECK(sparsity < 1.0, "sparsity must be < 1, got {}", sparsity); }
};

TEST(Options, DefaultsComeFromMemberInitialisers) {
  auto o = parseOptions<Opts>(YAML::Load("{}"), "pruner");
  EXPECT_DOUBLE_EQ(o.sparsity, 0.5);
  EXPECT_EQ(o.allocation, "uniform");
  EXPECT_EQ(o.inner.depth, 2);
}

TEST(Options, ParsesTypedValuesAndNested) {
  auto o = parseOptions<Opts>(
      YAML::Load("{sparsity: 1e-1, allocation: global, verbose: yes, count: 1_000, targets: [a, b], inner: {depth: 5}}"),
      "pruner");
  EXPECT_DOUBLE_EQ(o.sparsity, 0.1);
  EXPECT_EQ(o.allocation, "global");
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.count, 1000);
  EXPECT_EQ(o.targets, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o.inner.depth, 5);
}

TEST(Options, UnknownKeyNamesKeyOriginAndSuggestion) {
  OriginMap origins{{"pruner.sparsty", "override 'pruner.sparsty=0.5'"}};
  try {
    parseOptions<Opts>(YAML::Load("{sparsty: 0.5}"), "pruner", &origins);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("'pruner.sparsty'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("did you mean 'pruner.sparsity'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("override 'pruner.sparsty=0.5'"), std::string::npos) << msg;
  }
}

TEST(Options, WrongTypeNamesKeyAndExpectedType) {
  try {
    parseOptions<Opts>(YAML::Load("{count: abc}"), "pruner");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("pruner.count"), std::string::npos) << msg;
    EXPECT_NE(msg.find("int"), std::string::npos) << msg;
  }
  EXPECT_THROW(parseOptions<Opts>(YAML::Load("{targets: notalist}"), "pruner"), Error);
  EXPECT_THROW(parseOptions<Opts>(YAML::Load("{inner: {dept: 1}}"), "pruner"), Error);
  // A quoted number stays a string and is rejected where a float is expected.
  EXPECT_THROW(parseOptions<Opts>(YAML::Load("{sparsity: '0.5'}"), "pruner"), Error);
}

TEST(Options, ValidateRunsAfterParsing) {
  try {
    parseOptions<Opts>(YAML::Load("{sparsity: 1.5}"), "pruner");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pruner: sparsity must be < 1"), std::string::npos) << e.what();
  }
}

TEST(Options, DumpRoundTripsAndHelpListsEveryField) {
  Opts o;
  o.sparsity = 0.25;
  o.inner.depth = 7;
  YAML::Node dumped = dumpOptions(o);
  auto back = parseOptions<Opts>(dumped, "x");
  EXPECT_DOUBLE_EQ(back.sparsity, 0.25);
  EXPECT_EQ(back.inner.depth, 7);
  EXPECT_EQ(back.targets, o.targets);
  auto help = optionsHelp<Opts>();
  ASSERT_EQ(help.size(), 6u);
  EXPECT_EQ(help[0].key, "sparsity");
  EXPECT_EQ(help[0].type, "float");
  EXPECT_EQ(help[5].key, "inner.depth");
}

struct Base {
  virtual ~Base() = default;
  virtual double value() const = 0;
};
struct Impl : Base {
  struct Options {
    double v = 1.0;
    template <class V>
    void visit(V& vis) {
      vis(v, "v", "value");
    }
  };
  explicit Impl(Options o) : o_(o) {}
  double value() const override { return o_.v; }
  Options o_;
};

TEST(Registry, CreatesByTypeAndRejectsDuplicates) {
  Registry<Base> r("pruner");
  r.add<Impl>("wanda", "test");
  auto p = r.create(YAML::Load("{type: wanda, v: 3}"), "pruner");
  EXPECT_DOUBLE_EQ(p->value(), 3.0);
  EXPECT_THROW(r.add<Impl>("wanda", "again"), Error);
}

TEST(Registry, UnknownTypeSuggestsAndLists) {
  Registry<Base> r("pruner");
  r.add<Impl>("wanda", "test");
  r.add<Impl>("magnitude", "test");
  try {
    r.create(YAML::Load("{type: wandaa}"), "pruner");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("did you mean 'wanda'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'magnitude', 'wanda'"), std::string::npos) << msg;
  }
  EXPECT_THROW(r.create(YAML::Load("{v: 1}"), "pruner"), Error);  // no type
}

TEST(Suggest, EditDistanceAndNearest) {
  EXPECT_EQ(editDistance("sparsty", "sparsity"), 1u);
  EXPECT_EQ(editDistance("", "abc"), 3u);
  auto near = nearestNames("sparsty", {"seed", "sparsity", "targets"});
  ASSERT_EQ(near.size(), 1u);
  EXPECT_EQ(near[0], "sparsity");
  EXPECT_EQ(didYouMean("zzzzzz", {"sparsity"}), "");
  EXPECT_EQ(didYouMean("seed", {"seed"}), "");  // a name is no suggestion for itself
}

}  // namespace
}  // namespace prunelab
