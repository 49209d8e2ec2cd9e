#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/Assertions.h"
#include "framework/config/Composer.h"
#include "framework/config/Value.h"
#include "framework/core/Error.h"

namespace fs = std::filesystem;

namespace prunelab::config {
namespace {

using testing::errorOf;

// A throw-away config directory `<tmp>/conf`, removed at the end of the test.
class ConfDir {
 public:
  ConfDir() {
    std::string pattern = (fs::temp_directory_path() / "prunelab-conf-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    dir_ = root_ / "conf";
    fs::create_directories(dir_);
  }
  ~ConfDir() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  ConfDir& file(const std::string& rel, const std::string& text) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return *this;
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path root_, dir_;
};

// The fixture most tests share: groups model (with nested model/encoder), pruner, extra, experiment.
void writeStandard(ConfDir& c) {
  c.file("config.yaml",
         "defaults:\n"
         "  - model: mlp\n"
         "  - pruner: magnitude\n"
         "  - optional extra: not_there\n"
         "  - _self_\n"
         "seed: 1\n"
         "run_name: run_${seed}\n"
         "train:\n"
         "  lr: 0.1\n"
         "  epochs: 3\n"
         "pruner:\n"
         "  targets: [fc2]\n");
  c.file("model/mlp.yaml", "hidden: 64\nlayers: 2\n");
  c.file("model/cnn.yaml",
         "defaults:\n"
         "  - base_model\n"
         "  - encoder: small\n"
         "  - _self_\n"
         "channels: 16\n");
  c.file("model/base_model.yaml", "channels: 8\ndropout: 0.1\n");
  c.file("model/encoder/small.yaml", "width: 32\n");
  c.file("model/encoder/large.yaml", "width: 128\n");
  c.file("pruner/magnitude.yaml", "type: magnitude\nsparsity: 0.5\ntargets: [fc1, fc2, fc3]\n");
  c.file("pruner/wanda.yaml", "type: wanda\nsparsity: 0.5\nnsamples: 128\n");
  c.file("extra/present.yaml", "flag: true\n");
  c.file("experiment/x.yaml",
         "# @package _global_\n"
         "defaults:\n"
         "  - override /pruner: wanda\n"
         "seed: 7\n"
         "pruner:\n"
         "  sparsity: 0.7\n");
}

class ComposerTest : public ::testing::Test {
 protected:
  void SetUp() override { writeStandard(conf_); }
  Composition compose(const std::vector<std::string>& overrides) { return Composer(conf_.dir()).compose(overrides); }
  ConfDir conf_;
};

TEST_F(ComposerTest, GroupsLandUnderTheirPackageAndSelfMergesLast) {
  const Composition c = compose({});
  EXPECT_EQ(asInt(c.config["model"]["hidden"], "h"), 64);
  EXPECT_EQ(c.config["pruner"]["type"].Scalar(), "magnitude");
  // the primary's own body comes after its defaults: its list replaces the option's list
  ASSERT_EQ(c.config["pruner"]["targets"].size(), 1u);
  EXPECT_EQ(c.config["pruner"]["targets"][0].Scalar(), "fc2");
  EXPECT_DOUBLE_EQ(asDouble(c.config["pruner"]["sparsity"], "s"), 0.5);  // maps merge: the option's keys stay
  EXPECT_EQ(c.config["run_name"].Scalar(), "run_${seed}");               // compose does not resolve
  EXPECT_FALSE(c.config["extra"].IsDefined());                           // optional and missing: skipped
  EXPECT_EQ(c.choices.at("model"), "mlp");
  EXPECT_EQ(c.choices.at("pruner"), "magnitude");
  // key order: defaults first, then the primary's new keys
  std::vector<std::string> keys;
  for (auto it = c.config.begin(); it != c.config.end(); ++it) keys.push_back(it->first.Scalar());
  EXPECT_EQ(keys, (std::vector<std::string>{"model", "pruner", "seed", "run_name", "train"}));
}

TEST_F(ComposerTest, OriginsNameTheFileOrOverrideThatLastSetEachLeaf) {
  const Composition c = compose({"pruner.sparsity=0.6"});
  EXPECT_EQ(c.origins.at("model.hidden"), "conf/model/mlp.yaml");
  EXPECT_EQ(c.origins.at("pruner.type"), "conf/pruner/magnitude.yaml");
  EXPECT_EQ(c.origins.at("pruner.targets"), "conf/config.yaml");
  EXPECT_EQ(c.origins.at("pruner.sparsity"), "override 'pruner.sparsity=0.6'");
  EXPECT_EQ(c.origins.at("seed"), "conf/config.yaml");
  EXPECT_EQ(c.overrides, std::vector<std::string>{"pruner.sparsity=0.6"});
}

TEST_F(ComposerTest, GroupOverrideChangesTheChoiceAndNestedGroupsWork) {
  const Composition c = compose({"model=cnn", "model/encoder=large", "pruner=wanda"});
  EXPECT_EQ(c.choices.at("model"), "cnn");
  EXPECT_EQ(c.choices.at("model/encoder"), "large");
  EXPECT_EQ(asInt(c.config["model"]["channels"], "c"), 16);  // cnn's _self_ after base_model
  EXPECT_DOUBLE_EQ(asDouble(c.config["model"]["dropout"], "d"), 0.1);
  EXPECT_EQ(asInt(c.config["model"]["encoder"]["width"], "w"), 128);  // nested group a/b -> a.b
  EXPECT_EQ(c.origins.at("model.dropout"), "conf/model/base_model.yaml");
  EXPECT_EQ(asInt(c.config["pruner"]["nsamples"], "n"), 128);
  EXPECT_FALSE(c.config["model"]["hidden"].IsDefined());
  EXPECT_EQ(compose({"extra=present"}).config["extra"]["flag"].Scalar(), "true");
}

TEST_F(ComposerTest, ExperimentPresetWithGlobalPackageAndOverrideOfAbsoluteGroup) {
  const Composition c = compose({"+experiment=x"});
  EXPECT_EQ(c.choices.at("experiment"), "x");
  EXPECT_EQ(c.choices.at("pruner"), "wanda");
  EXPECT_EQ(c.config["pruner"]["type"].Scalar(), "wanda");
  EXPECT_DOUBLE_EQ(asDouble(c.config["pruner"]["sparsity"], "s"), 0.7);
  EXPECT_EQ(asInt(c.config["seed"], "seed"), 7);  // _global_: at the root, not under `experiment`
  EXPECT_FALSE(c.config["experiment"].IsDefined());
  EXPECT_EQ(c.origins.at("seed"), "conf/experiment/x.yaml");
  // the command line beats the preset's override
  EXPECT_EQ(compose({"+experiment=x", "pruner=magnitude"}).config["pruner"]["type"].Scalar(), "magnitude");
  // ++ appends when the group is absent, and overrides when present
  EXPECT_EQ(compose({"++experiment=x"}).choices.at("experiment"), "x");
  EXPECT_EQ(compose({"++pruner=wanda"}).choices.at("pruner"), "wanda");
}

TEST_F(ComposerTest, DeletingGroups) {
  const Composition c = compose({"~pruner"});
  EXPECT_EQ(c.choices.count("pruner"), 0u);
  EXPECT_FALSE(c.config["pruner"]["type"].IsDefined());
  EXPECT_EQ(c.config["pruner"]["targets"][0].Scalar(), "fc2");  // the primary's own pruner keys remain
  EXPECT_EQ(compose({"~pruner=magnitude"}).choices.count("pruner"), 0u);
  EXPECT_CONTAINS(errorOf([&] { compose({"~pruner=wanda"}); }), "its choice is 'magnitude', not 'wanda'");
  EXPECT_EQ(compose({"pruner=null"}).choices.at("pruner"), "null");
}

TEST_F(ComposerTest, GroupOverrideErrors) {
  const std::string unknown = errorOf([&] { compose({"pruner=wandaa"}); });
  EXPECT_CONTAINS(
      unknown, "Unknown option 'wandaa' for group 'pruner' (did you mean 'wanda'?). Available: 'magnitude', 'wanda'");
  EXPECT_CONTAINS(unknown, "override 'pruner=wandaa'");
  const std::string notInList = errorOf([&] { compose({"experiment=x"}); });
  EXPECT_CONTAINS(notInList, "Could not override group 'experiment'");
  EXPECT_CONTAINS(notInList, "+experiment=x");
  const std::string twice = errorOf([&] { compose({"+pruner=wanda"}); });
  EXPECT_CONTAINS(twice, "already selects 'magnitude'");
  EXPECT_CONTAINS(twice, "pruner=wanda");
  EXPECT_CONTAINS(errorOf([&] { compose({"~experiment"}); }), "Could not delete group 'experiment'");
  EXPECT_CONTAINS(errorOf([&] { compose({"modle/encoder=large"}); }), "Unknown config group 'modle/encoder'");
  EXPECT_CONTAINS(errorOf([&] { compose({"pruner=magnitude,wanda"}); }), "sweep");
}

TEST_F(ComposerTest, ValueOverridesSetExistingKeysWithTypes) {
  const Composition c = compose({"seed=5", "pruner.sparsity=0.6", "train.lr='0.1'", "pruner.targets=[a,b]",
                                 "train={epochs: 9}", "model.hidden=null", "pruner.targets.1=z"});
  EXPECT_EQ(scalarKind(c.config["seed"]), ScalarKind::Int);
  EXPECT_EQ(asInt(c.config["seed"], "seed"), 5);
  EXPECT_DOUBLE_EQ(asDouble(c.config["pruner"]["sparsity"], "s"), 0.6);
  EXPECT_EQ(scalarKind(c.config["train"]["lr"]), ScalarKind::String);
  ASSERT_EQ(c.config["pruner"]["targets"].size(), 2u);  // lists are assigned
  EXPECT_EQ(c.config["pruner"]["targets"][0].Scalar(), "a");
  EXPECT_EQ(c.config["pruner"]["targets"][1].Scalar(), "z");  // then one item changed
  EXPECT_EQ(c.origins.at("pruner.targets"), "override 'pruner.targets.1=z'");
  EXPECT_EQ(asInt(c.config["train"]["epochs"], "e"), 9);  // dicts merge ...
  EXPECT_TRUE(c.config["train"]["lr"].IsDefined());       // ... keeping the other keys
  EXPECT_EQ(c.origins.at("train.epochs"), "override 'train={epochs: 9}'");
  EXPECT_TRUE(c.config["model"]["hidden"].IsNull());
}

TEST_F(ComposerTest, ValueOverridesApplyInCommandLineOrder) {
  EXPECT_EQ(asInt(compose({"seed=5", "seed=6"}).config["seed"], "seed"), 6);
  EXPECT_EQ(asInt(compose({"~seed", "+seed=8"}).config["seed"], "seed"), 8);
}

TEST_F(ComposerTest, MissingKeyErrorSuggestsTheKeyAndThePlusForm) {
  const std::string msg = errorOf([&] { compose({"pruner.sparsty=0.5"}); });
  EXPECT_CONTAINS(msg, "Could not override 'pruner.sparsty': no such key (did you mean 'pruner.sparsity'?)");
  EXPECT_CONTAINS(msg, "To add a new key use +pruner.sparsty=0.5");
}

TEST_F(ComposerTest, AddForceAddAndDeleteValues) {
  const Composition c =
      compose({"+pruner.extra=1", "++pruner.sparsity=0.9", "++new.deep.key=x", "~train.lr", "~train.epochs=3"});
  EXPECT_EQ(asInt(c.config["pruner"]["extra"], "e"), 1);
  EXPECT_DOUBLE_EQ(asDouble(c.config["pruner"]["sparsity"], "s"), 0.9);
  EXPECT_EQ(c.config["new"]["deep"]["key"].Scalar(), "x");
  EXPECT_EQ(c.origins.at("new.deep.key"), "override '++new.deep.key=x'");
  EXPECT_FALSE(c.config["train"]["lr"].IsDefined());
  EXPECT_FALSE(c.config["train"]["epochs"].IsDefined());
  EXPECT_EQ(c.origins.count("train.lr"), 0u);

  const std::string exists = errorOf([&] { compose({"+pruner.sparsity=0.6"}); });
  EXPECT_CONTAINS(exists, "Could not add 'pruner.sparsity'");
  EXPECT_CONTAINS(exists, "already exists");
  EXPECT_CONTAINS(exists, "++pruner.sparsity=0.6");
  const std::string mismatch = errorOf([&] { compose({"~train.lr=0.2"}); });
  EXPECT_CONTAINS(mismatch, "its value is 0.1, not 0.2");
  EXPECT_CONTAINS(errorOf([&] { compose({"~train.lrr"}); }), "did you mean 'train.lr'?");
  EXPECT_CONTAINS(errorOf([&] { compose({"seed.x=1"}); }), "Could not override 'seed.x'");
  EXPECT_CONTAINS(errorOf([&] { compose({"++seed.x=1"}); }), "a parent of that key is a plain value");
}

TEST_F(ComposerTest, BadOverrideSyntaxNamesTextAndForm) {
  const std::string noEq = errorOf([&] { compose({"seed"}); });
  EXPECT_CONTAINS(noEq, "Bad override 'seed'");
  EXPECT_CONTAINS(noEq, "expected key=value");
  EXPECT_CONTAINS(errorOf([&] { compose({"bad key=1"}); }), "'bad key' is not a valid key");
  EXPECT_CONTAINS(errorOf([&] { compose({"=1"}); }), "the key before '=' is empty");
  const std::string badValue = errorOf([&] { compose({"seed=[1,2"}); });
  EXPECT_CONTAINS(badValue, "In override 'seed=[1,2'");
  EXPECT_CONTAINS(badValue, "missing ']'");
}

TEST_F(ComposerTest, GroupSweepJobsAllCompose) {
  const auto jobs = expandSweep({"pruner=magnitude,wanda", "pruner.sparsity=range(0.5,0.8,0.1)"});
  ASSERT_EQ(jobs.size(), 6u);
  const Composition last = compose(jobs[5]);
  EXPECT_EQ(last.choices.at("pruner"), "wanda");
  EXPECT_DOUBLE_EQ(asDouble(last.config["pruner"]["sparsity"], "s"), 0.7);
  EXPECT_EQ(compose(jobs[1]).choices.at("pruner"), "magnitude");
}

TEST_F(ComposerTest, GroupOptionsAreSortedStems) {
  EXPECT_EQ(Composer(conf_.dir()).groupOptions("model"), (std::vector<std::string>{"base_model", "cnn", "mlp"}));
  EXPECT_EQ(Composer(conf_.dir()).groupOptions("model/encoder"), (std::vector<std::string>{"large", "small"}));
  EXPECT_TRUE(Composer(conf_.dir()).groupOptions("nope").empty());
}

TEST(ComposerDefaultsTest, SelfFirstLetsDefaultsWin) {
  ConfDir c;
  c.file("pruner/magnitude.yaml", "sparsity: 0.5\n");
  c.file("first.yaml", "defaults:\n  - _self_\n  - pruner: magnitude\npruner:\n  sparsity: 0.9\n");
  c.file("last.yaml", "defaults:\n  - pruner: magnitude\npruner:\n  sparsity: 0.9\n");
  EXPECT_DOUBLE_EQ(asDouble(Composer(c.dir(), "first").compose({}).config["pruner"]["sparsity"], "s"), 0.5);
  EXPECT_DOUBLE_EQ(asDouble(Composer(c.dir(), "last").compose({}).config["pruner"]["sparsity"], "s"), 0.9);
  EXPECT_CONTAINS(errorOf([&] {
                    c.file("twice.yaml", "defaults:\n  - _self_\n  - _self_\n");
                    Composer(c.dir(), "twice").compose({});
                  }),
                  "_self_ appears 2 times");
}

TEST(ComposerDefaultsTest, NullDefaultIsAPlaceholder) {
  ConfDir c;
  c.file("pruner/wanda.yaml", "sparsity: 0.5\n");
  c.file("config.yaml", "defaults:\n  - pruner: null\na: 1\n");
  const Composition none = Composer(c.dir()).compose({});
  EXPECT_FALSE(none.config["pruner"].IsDefined());
  EXPECT_EQ(none.choices.at("pruner"), "null");
  const Composition chosen = Composer(c.dir()).compose({"pruner=wanda"});
  EXPECT_DOUBLE_EQ(asDouble(chosen.config["pruner"]["sparsity"], "s"), 0.5);
}

TEST(ComposerDefaultsTest, OverrideMustComeAfterNonOverrideEntries) {
  ConfDir c;
  c.file("pruner/wanda.yaml", "a: 1\n");
  c.file("pruner/magnitude.yaml", "a: 2\n");
  c.file("model/mlp.yaml", "b: 1\n");
  c.file("config.yaml", "defaults:\n  - pruner: magnitude\n  - override pruner: wanda\n  - model: mlp\n");
  const std::string msg = errorOf([&] { Composer(c.dir()).compose({}); });
  EXPECT_CONTAINS(msg, "In conf/config.yaml: 'override pruner: wanda' must come after the non-override entries");
  EXPECT_CONTAINS(msg, "'model: mlp' follows it");
  c.file("ok.yaml", "defaults:\n  - pruner: magnitude\n  - model: mlp\n  - override pruner: wanda\n");
  EXPECT_EQ(asInt(Composer(c.dir(), "ok").compose({}).config["pruner"]["a"], "a"), 1);
}

// A group preset may pick another group's option (model presets pick their dataset) when that
// group is listed first: entries expand back to front, so a later-listed group is already chosen.
TEST(ComposerDefaultsTest, AGroupPresetOverridesAGroupListedBeforeIt) {
  ConfDir c;
  c.file("data/digits.yaml", "n: 1\n");
  c.file("data/scenes.yaml", "n: 2\n");
  c.file("model/mlp.yaml", "b: 1\n");
  c.file("model/vlm.yaml", "defaults:\n  - override /data@_global_.data: scenes\n  - _self_\nb: 2\n");
  c.file("config.yaml", "defaults:\n  - data: digits\n  - model: mlp\n");
  EXPECT_EQ(asInt(Composer(c.dir()).compose({}).config["data"]["n"], "n"), 1);
  const Composition vlm = Composer(c.dir()).compose({"model=vlm"});
  EXPECT_EQ(vlm.choices.at("data"), "scenes");
  EXPECT_EQ(asInt(vlm.config["data"]["n"], "n"), 2);
  EXPECT_EQ(asInt(vlm.config["model"]["b"], "b"), 2);
  EXPECT_FALSE(vlm.config["model"]["data"].IsDefined());
  // The command line still wins, whichever order the overrides are given in.
  EXPECT_EQ(Composer(c.dir()).compose({"model=vlm", "data=digits"}).choices.at("data"), "digits");
  EXPECT_EQ(Composer(c.dir()).compose({"data=digits", "model=vlm"}).choices.at("data"), "digits");

  c.file("late.yaml", "defaults:\n  - model: mlp\n  - data: digits\n");
  const std::string msg = errorOf([&] { Composer(c.dir(), "late").compose({"model=vlm"}); });
  EXPECT_CONTAINS(msg, "could not override group 'data': it was already chosen ('digits', by conf/late.yaml)");
  EXPECT_CONTAINS(msg, "move 'data' above that config's entry");
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;  // never "did you mean 'data'?" for 'data'
}

TEST(ComposerDefaultsTest, LaterOverrideDepthFirstWins) {
  ConfDir c;
  c.file("db/a.yaml", "v: a\n");
  c.file("db/b.yaml", "v: b\n");
  c.file("db/c.yaml", "v: c\n");
  c.file("exp/one.yaml", "# @package _global_\ndefaults:\n  - override /db: b\n");
  c.file("exp2/two.yaml", "# @package _global_\ndefaults:\n  - override /db: c\n");
  c.file("config.yaml", "defaults:\n  - db: a\n  - exp: one\n  - exp2: two\n");
  const Composition comp = Composer(c.dir()).compose({});
  EXPECT_EQ(comp.config["db"]["v"].Scalar(), "c");
  EXPECT_EQ(comp.choices.at("db"), "c");
}

TEST(ComposerDefaultsTest, MissingNonOptionalOptionListsAvailableOnes) {
  ConfDir c;
  c.file("pruner/wanda.yaml", "a: 1\n");
  c.file("pruner/magnitude.yaml", "a: 2\n");
  c.file("config.yaml", "defaults:\n  - pruner: wandda\n");
  const std::string msg = errorOf([&] { Composer(c.dir()).compose({}); });
  EXPECT_CONTAINS(
      msg, "Unknown option 'wandda' for group 'pruner' (did you mean 'wanda'?). Available: 'magnitude', 'wanda'");
  EXPECT_CONTAINS(msg, "conf/config.yaml");
  c.file("nogroup.yaml", "defaults:\n  - prunr: wanda\n");
  EXPECT_CONTAINS(errorOf([&] { Composer(c.dir(), "nogroup").compose({}); }),
                  "Unknown config group 'prunr' (conf/nogroup.yaml) (did you mean 'pruner'?)");
  c.file("mandatory.yaml", "defaults:\n  - pruner: ???\n");
  EXPECT_CONTAINS(errorOf([&] { Composer(c.dir(), "mandatory").compose({}); }),
                  "You must choose an option for group 'pruner'");
  EXPECT_EQ(Composer(c.dir(), "mandatory").compose({"pruner=wanda"}).choices.at("pruner"), "wanda");
  EXPECT_CONTAINS(errorOf([&] { Composer(c.dir(), "confg").compose({}); }),
                  "Could not find the primary config 'confg'");
}

TEST(ComposerDefaultsTest, ConfigNamesAbsolutePathsAndPackages) {
  ConfDir c;
  c.file("config.yaml", "defaults:\n  - base\n  - model: mlp\n  - /extras/opt\nx: 1\n");
  c.file("base.yaml", "x: 0\ny: 2\n");
  c.file("extras/opt.yaml", "o: 1\n");
  c.file("model/mlp.yaml", "defaults:\n  - shared\n  - /act: relu\n  - _self_\nhidden: 4\n");
  c.file("model/shared.yaml", "hidden: 1\nbias: true\n");
  c.file("act/relu.yaml", "kind: relu\n");
  c.file("pkg/here.yaml", "# @package foo.bar\nz: 1\n");
  c.file("pk.yaml", "defaults:\n  - pkg: here\n");
  const Composition comp = Composer(c.dir()).compose({});
  EXPECT_EQ(asInt(comp.config["x"], "x"), 1);
  EXPECT_EQ(asInt(comp.config["y"], "y"), 2);
  EXPECT_EQ(asInt(comp.config["extras"]["o"], "o"), 1);  // a config path's folder is its package
  EXPECT_EQ(asInt(comp.config["model"]["hidden"], "h"), 4);
  EXPECT_EQ(comp.config["model"]["bias"].Scalar(), "true");         // plain name: relative to model/, package model
  EXPECT_EQ(comp.config["model"]["act"]["kind"].Scalar(), "relu");  // /act inside model: package model.act (Hydra)
  EXPECT_EQ(comp.choices.at("act@model.act"), "relu");
  const Composition pk = Composer(c.dir(), "pk").compose({});
  EXPECT_EQ(asInt(pk.config["foo"]["bar"]["z"], "z"), 1);
  EXPECT_FALSE(pk.config["pkg"].IsDefined());
}

TEST(ComposerDefaultsTest, RejectsDotDotAndIncludeCycles) {
  ConfDir c;
  c.file("config.yaml", "defaults:\n  - ../other\n");
  EXPECT_CONTAINS(errorOf([&] { Composer(c.dir()).compose({}); }), "uses '..'");
  c.file("a.yaml", "defaults:\n  - b\n");
  c.file("b.yaml", "defaults:\n  - a\n");
  EXPECT_CONTAINS(errorOf([&] { Composer(c.dir(), "a").compose({}); }), "Defaults list cycle");
}

TEST(ComposerDefaultsTest, DuplicateKeysInAConfigFileAreReportedWithTheFile) {
  ConfDir c;
  c.file("config.yaml", "defaults:\n  - model: mlp\n");
  c.file("model/mlp.yaml", "hidden: 1\nhidden: 2\n");
  const std::string msg = errorOf([&] { Composer(c.dir()).compose({}); });
  EXPECT_CONTAINS(msg, "Duplicate key 'hidden' in conf/model/mlp.yaml");
}

TEST(ComposerDefaultsTest, ComposedThenResolved) {
  ConfDir c;
  c.file("config.yaml", "seed: 3\nname: run_${seed}\nsame: ${seed}\npath: ???\n");
  const Composition comp = Composer(c.dir()).compose({"path=/data"});
  const YAML::Node r = resolve(comp.config);
  EXPECT_EQ(r["name"].Scalar(), "run_3");
  EXPECT_EQ(scalarKind(r["same"]), ScalarKind::Int);
  EXPECT_EQ(r["path"].Scalar(), "/data");
  EXPECT_CONTAINS(errorOf([&] { resolve(Composer(c.dir()).compose({}).config); }), "Missing mandatory value 'path'");
}

}  // namespace
}  // namespace prunelab::config
