#include <cmath>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/Assertions.h"
#include "framework/config/Value.h"
#include "framework/config/YamlFile.h"
#include "framework/core/Error.h"

namespace prunelab::config {
namespace {

// The node a YAML file gives for `v: <text>`.
YAML::Node yamlValue(const std::string& text) { return YAML::Load("v: " + text)["v"]; }

using testing::errorOf;

TEST(ValueTest, YamlScalarsFollowOmegaConfTyping) {
  EXPECT_EQ(scalarKind(yamlValue("1e-3")), ScalarKind::Float);
  EXPECT_DOUBLE_EQ(asDouble(yamlValue("1e-3"), "v"), 1e-3);
  EXPECT_EQ(scalarKind(yamlValue("1_000")), ScalarKind::Int);
  EXPECT_EQ(asInt(yamlValue("1_000"), "v"), 1000);
  EXPECT_EQ(asInt(yamlValue("0x1F"), "v"), 31);
  EXPECT_EQ(asInt(yamlValue("-42"), "v"), -42);
  EXPECT_EQ(asInt(yamlValue("1:30"), "v"), 90);  // YAML 1.1 sexagesimal
  EXPECT_EQ(scalarKind(yamlValue("1.5")), ScalarKind::Float);
  EXPECT_EQ(scalarKind(yamlValue("abc")), ScalarKind::String);
  EXPECT_EQ(scalarKind(yamlValue("1.2.3")), ScalarKind::String);
}

TEST(ValueTest, BoolWordsInThreeCasesButNotYN) {
  for (const char* t : {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"}) {
    EXPECT_EQ(scalarKind(yamlValue(t)), ScalarKind::Bool) << t;
    EXPECT_TRUE(asBool(yamlValue(t), "v")) << t;
  }
  for (const char* t : {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"}) {
    EXPECT_EQ(scalarKind(yamlValue(t)), ScalarKind::Bool) << t;
    EXPECT_FALSE(asBool(yamlValue(t), "v")) << t;
  }
  EXPECT_EQ(scalarKind(yamlValue("y")), ScalarKind::String);
  EXPECT_EQ(scalarKind(yamlValue("n")), ScalarKind::String);
  EXPECT_EQ(scalarKind(yamlValue("tRUE")), ScalarKind::String);
}

TEST(ValueTest, NullsAndSpecialFloats) {
  EXPECT_EQ(scalarKind(yamlValue("~")), ScalarKind::Null);
  EXPECT_EQ(scalarKind(yamlValue("null")), ScalarKind::Null);
  EXPECT_EQ(scalarKind(yamlValue("")), ScalarKind::Null);
  EXPECT_EQ(scalarKind(yamlValue(".inf")), ScalarKind::Float);
  EXPECT_TRUE(std::isinf(asDouble(yamlValue("-.inf"), "v")));
  EXPECT_LT(asDouble(yamlValue("-.inf"), "v"), 0);
  EXPECT_EQ(scalarKind(yamlValue("inf")), ScalarKind::Float);
  EXPECT_EQ(scalarKind(yamlValue("nan")), ScalarKind::Float);
  EXPECT_TRUE(std::isnan(asDouble(yamlValue(".nan"), "v")));
}

TEST(ValueTest, QuotedScalarsStayStrings) {
  EXPECT_EQ(scalarKind(yamlValue("'1'")), ScalarKind::String);
  EXPECT_EQ(scalarKind(yamlValue("\"true\"")), ScalarKind::String);
  EXPECT_EQ(scalarKind(yamlValue("''")), ScalarKind::String);
  EXPECT_EQ(scalarKind(yamlValue("!!str 5")), ScalarKind::String);
  EXPECT_EQ(asString(yamlValue("'1'"), "v"), "1");
  EXPECT_EQ(scalarKind(stringNode("1")), ScalarKind::String);
  EXPECT_EQ(scalarKind(YAML::Node("1")), ScalarKind::Int);  // a constructed plain node is typed by its text
}

TEST(ValueTest, TypeErrorsNameKeyExpectedAndActual) {
  EXPECT_CONTAINS(errorOf([] { asDouble(yamlValue("abc"), "pruner.sparsity"); }),
                  "pruner.sparsity: expected a float, got string 'abc'");
  EXPECT_CONTAINS(errorOf([] { asInt(yamlValue("0.5"), "model.layers"); }),
                  "model.layers: expected an int, got float '0.5'");
  EXPECT_CONTAINS(errorOf([] { asBool(yamlValue("y"), "flag"); }), "flag: expected a bool");
  EXPECT_CONTAINS(errorOf([] { asString(yamlValue("~"), "name"); }), "name: expected a string, got null");
  EXPECT_CONTAINS(errorOf([] { asInt(yamlValue("[1]"), "k"); }), "k: expected an int, got a list");
  EXPECT_DOUBLE_EQ(asDouble(yamlValue("3"), "v"), 3.0);  // ints are accepted as floats
  EXPECT_EQ(asString(yamlValue("12"), "v"), "12");       // and numbers as strings, as OmegaConf does
}

TEST(ValueTest, ParseValueFollowsHydraGrammar) {
  EXPECT_EQ(scalarKind(parseValue("1")), ScalarKind::Int);
  EXPECT_EQ(asInt(parseValue("1_000"), "v"), 1000);
  EXPECT_EQ(scalarKind(parseValue("1e-1")), ScalarKind::Float);
  EXPECT_DOUBLE_EQ(asDouble(parseValue("-.5"), "v"), -0.5);
  EXPECT_TRUE(std::isinf(asDouble(parseValue("inf"), "v")));
  EXPECT_TRUE(std::isnan(asDouble(parseValue("nan"), "v")));
  EXPECT_EQ(scalarKind(parseValue("TRUE")), ScalarKind::Bool);
  EXPECT_TRUE(asBool(parseValue("True"), "v"));
  EXPECT_EQ(scalarKind(parseValue("yes")), ScalarKind::String);  // Hydra: only true/false are bools
  EXPECT_EQ(scalarKind(parseValue("null")), ScalarKind::Null);
  EXPECT_EQ(scalarKind(parseValue("NULL")), ScalarKind::Null);
  EXPECT_EQ(scalarKind(parseValue("'1'")), ScalarKind::String);
  EXPECT_EQ(asString(parseValue("'1'"), "v"), "1");
  EXPECT_EQ(asString(parseValue("\"a b\""), "v"), "a b");
  EXPECT_EQ(asString(parseValue("'it\\'s'"), "v"), "it's");
  EXPECT_EQ(scalarKind(parseValue("007")), ScalarKind::String);
  EXPECT_EQ(asString(parseValue("  hello world  "), "v"), "hello world");
  EXPECT_EQ(asString(parseValue("a\\,b\\=c"), "v"), "a,b=c");
  EXPECT_EQ(asString(parseValue("${a.b}"), "v"), "${a.b}");
  EXPECT_EQ(asString(parseValue("/data/x:y"), "v"), "/data/x:y");
  EXPECT_EQ(asString(parseValue(""), "v"), "");
}

TEST(ValueTest, ParseValueListsAndDicts) {
  const YAML::Node list = parseValue("[1, '2', x, [true], {a: 1}]");
  ASSERT_TRUE(list.IsSequence());
  ASSERT_EQ(list.size(), 5u);
  EXPECT_EQ(scalarKind(list[0]), ScalarKind::Int);
  EXPECT_EQ(scalarKind(list[1]), ScalarKind::String);
  EXPECT_EQ(scalarKind(list[2]), ScalarKind::String);
  EXPECT_EQ(scalarKind(list[3][0]), ScalarKind::Bool);
  EXPECT_EQ(asInt(list[4]["a"], "a"), 1);
  const YAML::Node dict = parseValue("{a:1,b:[x,y],'c d':0.5}");
  ASSERT_TRUE(dict.IsMap());
  EXPECT_EQ(asInt(dict["a"], "a"), 1);
  EXPECT_EQ(dict["b"].size(), 2u);
  EXPECT_DOUBLE_EQ(asDouble(dict["c d"], "c d"), 0.5);
  EXPECT_EQ(parseValue("[]").size(), 0u);
  EXPECT_TRUE(parseValue("{}").IsMap());
}

TEST(ValueTest, ParseValueErrorsNameTheTextAndTheFix) {
  const std::string unterminated = errorOf([] { parseValue("[1,2"); });
  EXPECT_CONTAINS(unterminated, "Bad override value '[1,2'");
  EXPECT_CONTAINS(unterminated, "missing ']'");
  EXPECT_CONTAINS(errorOf([] { parseValue("1,2"); }), "sweep");
  EXPECT_CONTAINS(errorOf([] { parseValue("'abc"); }), "missing closing '");
}

TEST(ValueTest, ToJsonKeepsTypesAndOrder) {
  const YAML::Node n = YAML::Load("b: 1\na: '1'\nc: [1.5, true, null, x]\nd: {z: 1_000, y: yes}\n");
  const auto j = toJson(n);
  EXPECT_EQ(j.dump(), R"({"b":1,"a":"1","c":[1.5,true,null,"x"],"d":{"z":1000,"y":true}})");
  EXPECT_EQ(canonicalJson(n), R"({"a":"1","b":1,"c":[1.5,true,null,"x"],"d":{"y":true,"z":1000}})");
  EXPECT_EQ(canonicalJson(YAML::Load("x: 1.0")), R"({"x":1.0})");
  EXPECT_NE(canonicalJson(YAML::Load("x: 1.0")), canonicalJson(YAML::Load("x: 1")));
}

TEST(ValueTest, FlattenGivesDottedKeysAndReadableText) {
  const auto flat = flatten(YAML::Load("a: {b: 1e-3, c: [1, 'x']}\nd: ~\ne: {}\nf: On\ng: text\n"));
  ASSERT_EQ(flat.size(), 6u);
  EXPECT_EQ(flat.at("a.b"), "0.001");
  EXPECT_EQ(flat.at("a.c"), R"([1,"x"])");
  EXPECT_EQ(flat.at("d"), "null");
  EXPECT_EQ(flat.at("e"), "{}");
  EXPECT_EQ(flat.at("f"), "true");
  EXPECT_EQ(flat.at("g"), "text");
}

TEST(ValueTest, CloneIsDeepAndUnsharesAliases) {
  YAML::Node original = YAML::Load("base: &b {x: 1}\nuse: *b\nq: '2'\n");
  YAML::Node copy = clone(original);
  copy["use"]["x"] = 5;
  EXPECT_EQ(original["use"]["x"].as<int>(), 1);
  EXPECT_EQ(copy["base"]["x"].as<int>(), 1);  // the alias no longer shares data with its anchor
  EXPECT_EQ(scalarKind(copy["q"]), ScalarKind::String);
}

TEST(ValueTest, ToYamlTextQuotesStringsThatLookTyped) {
  YAML::Node n(YAML::NodeType::Map);
  n["s"] = stringNode("1");
  n["t"] = stringNode("yes");
  n["e"] = stringNode("");
  n["i"] = YAML::Node("1");
  n["plain"] = stringNode("hello");
  const YAML::Node back = YAML::Load(toYamlText(n));
  EXPECT_EQ(scalarKind(back["s"]), ScalarKind::String);
  EXPECT_EQ(scalarKind(back["t"]), ScalarKind::String);
  EXPECT_EQ(scalarKind(back["e"]), ScalarKind::String);
  EXPECT_EQ(scalarKind(back["i"]), ScalarKind::Int);
  EXPECT_EQ(back["plain"].Scalar(), "hello");
}

TEST(YamlFileTest, DuplicateKeysAreAnErrorNamingFileAndKey) {
  const std::string msg = errorOf([] { YamlFile::parse("a: 1\nb:\n  c: 1\n  c: 2\n", "conf/x.yaml"); });
  EXPECT_CONTAINS(msg, "Duplicate key 'b.c'");
  EXPECT_CONTAINS(msg, "conf/x.yaml");
  EXPECT_CONTAINS(msg, "line 4");
  EXPECT_CONTAINS(errorOf([] { YamlFile::parse("a: 1\na: 2\n", "top.yaml"); }), "Duplicate key 'a' in top.yaml");
}

TEST(YamlFileTest, MergeKeysAndPackageHeader) {
  const YamlFile f =
      YamlFile::parse("\n# a comment\n# @package foo.bar\nbase: &b {x: 1, y: 2}\nk:\n  <<: *b\n  y: 3\n", "f.yaml");
  ASSERT_TRUE(f.package.has_value());
  EXPECT_EQ(*f.package, "foo.bar");
  EXPECT_EQ(f.body["k"]["x"].as<int>(), 1);
  EXPECT_EQ(f.body["k"]["y"].as<int>(), 3);
  EXPECT_FALSE(f.body["k"]["<<"].IsDefined());
  EXPECT_FALSE(YamlFile::parse("a: 1\n# @package x\n", "g.yaml").package.has_value());  // only a leading header counts
  EXPECT_CONTAINS(errorOf([] { YamlFile::parse("- 1\n- 2\n", "list.yaml"); }), "must be a mapping");
  EXPECT_CONTAINS(errorOf([] { YamlFile::parse("a: [1\n", "bad.yaml"); }), "Could not parse bad.yaml");
}

}  // namespace
}  // namespace prunelab::config
