#include <gtest/gtest.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "framework/core/Error.h"
#include "results/Table.h"
#include "tests/support/Assertions.h"
#include "tests/support/StoreRuns.h"

namespace prunelab::results {
namespace {

using testing::errorOf;

// A store with hand-made FINISHED runs: method x sparsity x seed, with known metrics.
class TableTest : public ::testing::Test {
 protected:
  void add(const std::string& method, double sparsity, int seed, const std::map<std::string, double>& metrics) {
    testing::addFinishedRun(store_, ++count_, method, sparsity, seed, metrics, {{"pruner.note", "a_b&c"}});
  }
  std::string render(const std::string& yaml, const std::string& format = "md") {
    return renderTable(store_, YAML::Load(yaml), format);
  }
  store::RunStore store_{":memory:"};
  int count_ = 0;
};

TEST_F(TableTest, SeedsAggregateAndTheBestCellIsBoldInTheMetricsDirection) {
  add("wanda", 0.5, 0, {{"vqa/acc", 50}, {"time/prune/seconds", 3}});
  add("wanda", 0.5, 1, {{"vqa/acc", 52}, {"time/prune/seconds", 5}});
  add("sparsegpt", 0.5, 0, {{"vqa/acc", 49}, {"time/prune/seconds", 9}});
  const auto out = render(
      "rows: [pruner, pruner.sparsity]\ndigits: 1\ncolumns:\n"
      "  - {label: acc, metric: vqa/acc}\n  - {label: time, metric: time/prune/seconds}\n");
  // wanda: mean 51 ± 1.4 (n=2), the higher accuracy and the lower time: both bold.
  EXPECT_CONTAINS(out, "| wanda | 0.5 | **51.0 ± 1.4 (n=2)** | **4.0 ± 1.4 (n=2)** |");
  EXPECT_CONTAINS(out, "| sparsegpt | 0.5 | 49.0 | 9.0 |");
  // better: none turns bolding off for a column; bold: false for the table.
  const auto plain = render("bold: false\nrows: pruner\ncolumns:\n  - {metric: vqa/acc}\n");
  EXPECT_EQ(plain.find("**"), std::string::npos) << plain;
  const auto none = render("rows: pruner\ncolumns:\n  - {metric: vqa/acc, better: none}\n");
  EXPECT_EQ(none.find("**"), std::string::npos) << none;
  const auto lower = render("rows: pruner\ncolumns:\n  - {metric: vqa/acc, better: lower}\n");
  EXPECT_CONTAINS(lower, "| sparsegpt | **49.00** |");
  // Latency is a cost; the question-only prior describes the data and is never ranked.
  add("owl", 0.5, 0, {{"speed/d/test/latency_ms", 7}, {"vqa/d/test/prior_acc", 40}});
  add("magnitude", 0.5, 0, {{"speed/d/test/latency_ms", 9}, {"vqa/d/test/prior_acc", 41}});
  const auto costs = render("rows: pruner\ndigits: 0\ncolumns:\n  - {metric: speed/d/test/latency_ms}\n"
                            "  - {metric: vqa/d/test/prior_acc}\n");
  EXPECT_CONTAINS(costs, "| owl | **7** | 40 |");
  EXPECT_CONTAINS(costs, "| magnitude | 9 | 41 |");
}

TEST_F(TableTest, UnrankedRowsAndAllTiedColumnsAreNeverBold) {
  add("none", 0.0, 0, {{"vqa/acc", 60}, {"model/bytes", 8}});
  add("wanda", 0.5, 0, {{"vqa/acc", 50}, {"model/bytes", 8}});
  add("magnitude", 0.5, 0, {{"vqa/acc", 40}, {"model/bytes", 8}});
  const auto out = render(
      "rows: pruner\nunranked: {pruner: none}\ndigits: 0\ncolumns:\n  - {label: acc, metric: vqa/acc}\n"
      "  - {label: size, metric: model/bytes, better: lower}\n");
  EXPECT_CONTAINS(out, "| none | 60 | 8 |");  // the dense reference is not a contender
  EXPECT_CONTAINS(out, "| wanda | **50** | 8 |");
  EXPECT_CONTAINS(out, "| magnitude | 40 | 8 |");
  EXPECT_CONTAINS(errorOf([&] { render("rows: pruner\nunranked: {prunr: none}\ncolumns:\n  - {metric: vqa/acc}\n"); }),
                  "did you mean 'pruner'");
  // A list leaves several values out of the ranking.
  add("owl", 0.5, 0, {{"vqa/acc", 30}, {"model/bytes", 8}});
  const auto several = render(
      "rows: pruner\nunranked: {pruner: [none, wanda]}\ndigits: 0\ncolumns:\n  - {label: acc, metric: vqa/acc}\n");
  EXPECT_CONTAINS(several, "| wanda | 50 |");
  EXPECT_CONTAINS(several, "| magnitude | **40** |");
}

TEST_F(TableTest, BoldWithinPicksTheBestOfEachGroupOfRows) {
  add("wanda", 0.5, 0, {{"vqa/acc", 50}});
  add("magnitude", 0.5, 0, {{"vqa/acc", 45}});
  add("wanda", 0.7, 0, {{"vqa/acc", 30}});
  add("magnitude", 0.7, 0, {{"vqa/acc", 32}});
  const std::string columns = "digits: 0\ncolumns:\n  - {label: acc, metric: vqa/acc}\n";
  const auto grouped = render("rows: [pruner, pruner.sparsity]\nbold_within: pruner.sparsity\n" + columns);
  EXPECT_CONTAINS(grouped, "| wanda | 0.5 | **50** |");
  EXPECT_CONTAINS(grouped, "| magnitude | 0.5 | 45 |");
  EXPECT_CONTAINS(grouped, "| wanda | 0.7 | 30 |");
  EXPECT_CONTAINS(grouped, "| magnitude | 0.7 | **32** |");
  // Without it, one winner over all rows.
  const auto global = render("rows: [pruner, pruner.sparsity]\n" + columns);
  EXPECT_CONTAINS(global, "| magnitude | 0.7 | 32 |");
  EXPECT_CONTAINS(global, "| wanda | 0.5 | **50** |");
  EXPECT_CONTAINS(errorOf([&] { render("rows: [pruner, pruner.sparsity]\nbold_within: pruner.sparsty\n" + columns); }),
                  "did you mean 'pruner.sparsity'");
}

TEST_F(TableTest, DerivedColumnsAverageEarlierColumnsAndMissingStaysMissing) {
  add("wanda", 0.5, 0, {{"vqa/acc", 50}, {"cap/cider", 1.2}});
  add("magnitude", 0.5, 0, {{"vqa/acc", 40}});  // no caption metric
  const auto out = render(
      "rows: pruner\ndigits: 1\ncolumns:\n  - {label: VQA, metric: vqa/acc}\n"
      "  - {label: CIDEr, metric: cap/cider, divide: 0.01}\n  - {label: avg, mean_of: [VQA, CIDEr]}\n");
  EXPECT_CONTAINS(out, "| wanda | **50.0** | 120.0 | 85.0 |");  // a lone value is no win
  EXPECT_CONTAINS(out, "| magnitude | 40.0 | — | — |");  // never 0
  EXPECT_CONTAINS(errorOf([&] { render("rows: pruner\ncolumns:\n  - {label: avg, mean_of: [VQA]}\n"); }),
                  "not the label of an earlier column");
  EXPECT_CONTAINS(errorOf([&] { render("rows: pruner\ncolumns:\n  - {metric: vqa/acc, better: more}\n"); }),
                  "use higher, lower or none");
}

TEST_F(TableTest, LatexIsBooktabsWithEscapedCellsAndCsvIsPlainNumbers) {
  add("wanda", 0.5, 0, {{"vqa/acc", 50}});
  add("wanda", 0.5, 1, {{"vqa/acc", 52}});
  add("magnitude", 0.5, 0, {{"vqa/acc", 40}});
  const std::string spec = "title: A_B\nrows: [pruner, pruner.note]\ncolumns:\n  - {label: acc%, metric: vqa/acc}\n";
  const auto tex = render(spec, "latex");
  EXPECT_CONTAINS(tex, "\\begin{tabular}{llr}\n\\toprule\npruner & pruner.note & acc\\% \\\\\n\\midrule\n");
  EXPECT_CONTAINS(tex, "wanda & a\\_b\\&c & \\textbf{51.00 $\\pm$ 1.41 (n=2)} \\\\\n");
  EXPECT_CONTAINS(tex, "\\bottomrule\n\\end{tabular}\n");
  const auto csv = render(spec, "csv");
  EXPECT_CONTAINS(csv, "pruner,pruner.note,acc%\n");
  EXPECT_CONTAINS(csv, "wanda,a_b&c,51.00\n");
  EXPECT_EQ(csv.find("**"), std::string::npos);
  EXPECT_EQ(render(spec, "latex"), tex);  // deterministic
  EXPECT_CONTAINS(errorOf([&] { render(spec, "html"); }), "use md, csv or latex");
}

}  // namespace
}  // namespace prunelab::results
