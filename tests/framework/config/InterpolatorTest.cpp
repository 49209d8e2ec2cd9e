#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/Assertions.h"
#include "framework/config/Composer.h"
#include "framework/config/Interpolator.h"
#include "framework/config/Value.h"
#include "framework/core/Error.h"

namespace prunelab::config {
namespace {

using testing::errorOf;

TEST(InterpolatorTest, AbsoluteReferenceKeepsTheReferencedKind) {
  const YAML::Node r =
      resolve(YAML::Load("seed: 3\nlr: 1e-3\nflag: on\nname: '5'\na: ${seed}\nb: ${lr}\nc: ${flag}\nd: ${name}\n"));
  EXPECT_EQ(scalarKind(r["a"]), ScalarKind::Int);
  EXPECT_EQ(asInt(r["a"], "a"), 3);
  EXPECT_EQ(scalarKind(r["b"]), ScalarKind::Float);
  EXPECT_EQ(scalarKind(r["c"]), ScalarKind::Bool);
  EXPECT_EQ(scalarKind(r["d"]), ScalarKind::String);  // a quoted '5' stays a string through ${}
}

TEST(InterpolatorTest, StringInterpolationGivesAString) {
  const YAML::Node r = resolve(YAML::Load("seed: 1\nlr: 1e-3\nrun: run_${seed}_${lr}\nn: ${seed}${seed}\n"));
  EXPECT_EQ(scalarKind(r["run"]), ScalarKind::String);
  EXPECT_EQ(r["run"].Scalar(), "run_1_0.001");
  EXPECT_EQ(scalarKind(r["n"]), ScalarKind::String);  // "11" concatenated is text, not the int 11
  EXPECT_EQ(r["n"].Scalar(), "11");
}

TEST(InterpolatorTest, NestedChainedRelativeAndListReferences) {
  const YAML::Node r =
      resolve(YAML::Load("which: b\nvals: {a: 1, b: 2}\npick: ${vals.${which}}\nchain1: ${chain2}\nchain2: ${vals.a}\n"
                         "model:\n  dim: 8\n  enc:\n    width: ${..dim}\n    same: ${.w2}\n    w2: 4\nl: [x, "
                         "y]\nsecond: ${l.1}\nfirst: ${l[0]}\n"
                         "sub: ${vals}\n"));
  EXPECT_EQ(asInt(r["pick"], "pick"), 2);
  EXPECT_EQ(asInt(r["chain1"], "chain1"), 1);
  EXPECT_EQ(asInt(r["model"]["enc"]["width"], "w"), 8);
  EXPECT_EQ(asInt(r["model"]["enc"]["same"], "s"), 4);
  EXPECT_EQ(r["second"].Scalar(), "y");
  EXPECT_EQ(r["first"].Scalar(), "x");
  ASSERT_TRUE(r["sub"].IsMap());
  EXPECT_EQ(asInt(r["sub"]["b"], "b"), 2);
}

TEST(InterpolatorTest, EnvironmentVariables) {
  ::setenv("PRUNELAB_TEST_VAR", "hello", 1);
  ::unsetenv("PRUNELAB_TEST_UNSET");
  const YAML::Node r =
      resolve(YAML::Load("a: ${oc.env:PRUNELAB_TEST_VAR}\nb: ${oc.env:PRUNELAB_TEST_UNSET,fallback}\nc: "
                         "${oc.env:PRUNELAB_TEST_UNSET,null}\n"
                         "d: pre_${oc.env:PRUNELAB_TEST_VAR}\ne: ${oc.env:PRUNELAB_TEST_UNSET,'x,y'}\n"));
  EXPECT_EQ(r["a"].Scalar(), "hello");
  EXPECT_EQ(r["b"].Scalar(), "fallback");
  EXPECT_TRUE(r["c"].IsNull());
  EXPECT_EQ(r["d"].Scalar(), "pre_hello");
  EXPECT_EQ(r["e"].Scalar(), "x,y");
  const std::string msg = errorOf([] { resolve(YAML::Load("data: {root: '${oc.env:PRUNELAB_TEST_UNSET}'}")); });
  EXPECT_CONTAINS(msg, "Environment variable 'PRUNELAB_TEST_UNSET' is not set");
  EXPECT_CONTAINS(msg, "data.root");
  EXPECT_CONTAINS(msg, "${oc.env:PRUNELAB_TEST_UNSET,default}");
}

TEST(InterpolatorTest, NowFormatsTheCurrentTime) {
  const YAML::Node r = resolve(YAML::Load("dir: outputs/${now:%Y}\n"));
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  EXPECT_EQ(r["dir"].Scalar(), "outputs/" + std::to_string(1900 + tm.tm_year));
  EXPECT_EQ(nowText("%H-%M-%S"), nowText("%H-%M-%S"));  // cached per format, like Hydra
}

TEST(InterpolatorTest, EscapedInterpolationIsLiteral) {
  const YAML::Node r = resolve(YAML::Load("a: 1\nb: '\\${a}'\n"));
  EXPECT_EQ(r["b"].Scalar(), "${a}");
}

TEST(InterpolatorTest, MandatoryValueIsAnErrorNamingKeyAndFix) {
  const std::string msg = errorOf([] { resolve(YAML::Load("model:\n  path: ???\n")); });
  EXPECT_CONTAINS(msg, "Missing mandatory value 'model.path'");
  EXPECT_CONTAINS(msg, "model.path=<value>");
  const std::string via = errorOf([] { resolve(YAML::Load("use: ${model.path}\nmodel:\n  path: '?\?\?'\n")); });
  EXPECT_CONTAINS(via, "Missing mandatory value 'model.path' (needed by 'use')");
}

TEST(InterpolatorTest, CyclesAndUnknownKeysAreErrors) {
  const std::string cycle = errorOf([] { resolve(YAML::Load("a: ${b}\nb: ${c}\nc: ${a}\n")); });
  EXPECT_CONTAINS(cycle, "Interpolation cycle: a -> b -> c -> a");
  const std::string unknown = errorOf([] { resolve(YAML::Load("train: {epochs: 3}\nn: ${train.epoch}\n")); });
  EXPECT_CONTAINS(unknown, "no config key 'train.epoch'");
  EXPECT_CONTAINS(unknown, "did you mean 'train.epochs'?");
  EXPECT_CONTAINS(unknown, "at 'n'");
  EXPECT_CONTAINS(errorOf([] { resolve(YAML::Load("a: ${oc.envv:X}\n")); }), "Unknown resolver 'oc.envv'");
  EXPECT_CONTAINS(errorOf([] { resolve(YAML::Load("a: ${b\nb: 1\n")); }), "Unterminated interpolation");
}

TEST(InterpolatorTest, CustomResolversAndUntouchedInput) {
  const YAML::Node in = YAML::Load("out: ${hydra:runtime.output_dir}/x\nk: ${k2}\nk2: 1\n");
  std::map<std::string, Resolver> extra;
  extra["hydra"] = [](const std::vector<std::string>& args) {
    return stringNode(args.at(0) == "runtime.output_dir" ? "/tmp/run" : "?");
  };
  const YAML::Node r = resolve(in, extra);
  EXPECT_EQ(r["out"].Scalar(), "/tmp/run/x");
  EXPECT_EQ(in["k"].Scalar(), "${k2}");  // resolve() returns a copy
  EXPECT_EQ(asInt(r["k"], "k"), 1);
}

}  // namespace
}  // namespace prunelab::config
