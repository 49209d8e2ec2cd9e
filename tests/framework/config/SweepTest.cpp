#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/Assertions.h"
#include "framework/config/Composer.h"
#include "framework/core/Error.h"

namespace prunelab::config {
namespace {

using Jobs = std::vector<std::vector<std::string>>;

using testing::errorOf;

TEST(SweepTest, NoOverridesIsOneEmptyJob) { EXPECT_EQ(expandSweep({}), Jobs{{}}); }

TEST(SweepTest, CommaListAndNonSweepCopiedIntoEveryJob) {
  EXPECT_EQ(expandSweep({"a=1,2,3", "b=x"}), (Jobs{{"a=1", "b=x"}, {"a=2", "b=x"}, {"a=3", "b=x"}}));
  EXPECT_EQ(expandSweep({"a= 1 , 2"}), (Jobs{{"a=1"}, {"a=2"}}));
}

TEST(SweepTest, CartesianProductLastKeyFastestWithHydraJobNumbers) {
  const Jobs jobs = expandSweep({"db=mysql,postgresql", "schema=warehouse,support,school"});
  ASSERT_EQ(jobs.size(), 6u);
  EXPECT_EQ(jobs[0], (std::vector<std::string>{"db=mysql", "schema=warehouse"}));
  EXPECT_EQ(jobs[1], (std::vector<std::string>{"db=mysql", "schema=support"}));
  EXPECT_EQ(jobs[2], (std::vector<std::string>{"db=mysql", "schema=school"}));
  EXPECT_EQ(jobs[3], (std::vector<std::string>{"db=postgresql", "schema=warehouse"}));
  EXPECT_EQ(jobs[5], (std::vector<std::string>{"db=postgresql", "schema=school"}));
}

TEST(SweepTest, KeysKeepOrderOfFirstAppearanceAndLaterValuesWin) {
  EXPECT_EQ(expandSweep({"a=1,2", "b=3", "a=5,6"}), (Jobs{{"a=5", "b=3"}, {"a=6", "b=3"}}));
}

TEST(SweepTest, IntRanges) {
  EXPECT_EQ(expandSweep({"k=range(1,4)"}), (Jobs{{"k=1"}, {"k=2"}, {"k=3"}}));
  EXPECT_EQ(expandSweep({"k=range(3)"}), (Jobs{{"k=0"}, {"k=1"}, {"k=2"}}));
  EXPECT_EQ(expandSweep({"k=range(0,10,4)"}), (Jobs{{"k=0"}, {"k=4"}, {"k=8"}}));
  EXPECT_EQ(expandSweep({"k=range(5,0,-2)"}), (Jobs{{"k=5"}, {"k=3"}, {"k=1"}}));
  EXPECT_EQ(expandSweep({"k=range(start=1,stop=3)"}), (Jobs{{"k=1"}, {"k=2"}}));
}

TEST(SweepTest, FloatRangesUseStartPlusIStepAndPrintCleanly) {
  EXPECT_EQ(expandSweep({"k=range(0,10,3.3)"}), (Jobs{{"k=0.0"}, {"k=3.3"}, {"k=6.6"}, {"k=9.9"}}));
  EXPECT_EQ(expandSweep({"lr=range(0.1,0.4,0.1)"}), (Jobs{{"lr=0.1"}, {"lr=0.2"}, {"lr=0.3"}}));
}

TEST(SweepTest, ChoiceAndGroupSweeps) {
  EXPECT_EQ(expandSweep({"k=choice(a,b)"}), (Jobs{{"k=a"}, {"k=b"}}));
  EXPECT_EQ(expandSweep({"pruner=magnitude,wanda", "+experiment=x"}),
            (Jobs{{"pruner=magnitude", "+experiment=x"}, {"pruner=wanda", "+experiment=x"}}));
  EXPECT_EQ(expandSweep({"+k=1,2", "~old"}), (Jobs{{"+k=1", "~old"}, {"+k=2", "~old"}}));
}

TEST(SweepTest, CommasInsideBracketsQuotesAndEscapesDoNotSplit) {
  EXPECT_EQ(expandSweep({"l=[1,2]"}), Jobs{{"l=[1,2]"}});
  EXPECT_EQ(expandSweep({"d={a:1,b:2}"}), Jobs{{"d={a:1,b:2}"}});
  EXPECT_EQ(expandSweep({"s='a,b'"}), Jobs{{"s='a,b'"}});
  EXPECT_EQ(expandSweep({"e=${oc.env:X,y}"}), Jobs{{"e=${oc.env:X,y}"}});
  EXPECT_EQ(expandSweep({"x=a\\,b"}), Jobs{{"x=a\\,b"}});
  EXPECT_EQ(expandSweep({"l=[1,2],[3]"}), (Jobs{{"l=[1,2]"}, {"l=[3]"}}));
}

TEST(SweepTest, BadSweepsNameTheOverride) {
  EXPECT_CONTAINS(errorOf([] { expandSweep({"k=range(1,5,0)"}); }), "step of range() must not be 0");
  EXPECT_CONTAINS(errorOf([] { expandSweep({"k=range(a,b)"}); }), "Bad sweep 'k=range(a,b)'");
  EXPECT_CONTAINS(errorOf([] { expandSweep({"k=range(5,1)"}); }), "no values");
  EXPECT_CONTAINS(errorOf([] { expandSweep({"k=1,,2"}); }), "empty element");
  EXPECT_CONTAINS(errorOf([] { expandSweep({"k=glob(*)"}); }), "not supported");
  EXPECT_CONTAINS(errorOf([] { expandSweep({"novalue"}); }), "Bad override 'novalue'");
}

}  // namespace
}  // namespace prunelab::config
