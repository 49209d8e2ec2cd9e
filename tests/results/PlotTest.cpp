#include <fmt/format.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "framework/core/Error.h"
#include "results/Plot.h"
#include "tests/support/Assertions.h"
#include "tests/support/Fixtures.h"
#include "tests/support/StoreRuns.h"

namespace prunelab::results {
namespace {

using testing::errorOf;
namespace fs = std::filesystem;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool haveGnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

// A store with hand-made FINISHED runs: method x sparsity x seed, with known metrics and layers.
class PlotTest : public ::testing::Test {
 protected:
  void add(const std::string& method, double sparsity, int seed, const std::map<std::string, double>& metrics,
           const std::vector<store::LayerRecord>& layers = {}) {
    testing::addFinishedRun(store_, ++count_, method, sparsity, seed, metrics, {}, layers);
  }
  // Two blocks per modality; the vision side gets `v0`/`v1`, the language side `l0`, both with
  // matrices of unequal size so that the block value is a numel-weighted mean.
  static std::vector<store::LayerRecord> layers(double v0, double v1, double l0) {
    return {{"vision.blocks.0.attn.qkv", "vision", 300, v0, v0, ""},
            {"vision.blocks.0.mlp.fc1", "vision", 100, v0 + 0.4, v0 + 0.4, ""},
            {"vision.blocks.1.attn.qkv", "vision", 100, v1, v1, ""},
            {"language.blocks.0.mlp.fc1", "language", 100, l0, l0 - 0.01, ""}};
  }
  PlotSource build(const std::string& yaml) { return buildPlot(store_, YAML::Load(yaml), "p"); }
  store::RunStore store_{":memory:"};
  int count_ = 0;
};

constexpr const char* kCurve =
    "kind: curve\ntitle: acc vs sparsity\nruns: {name: t}\nseries: pruner\norder: {pruner: [wanda]}\n"
    "x: pruner.sparsity\ny: {metric: vqa/acc, label: VQA}\n";

TEST_F(PlotTest, CurvePointsAreMeansOverSeedsAndMissingPointsAreLeftOut) {
  add("wanda", 0.5, 0, {{"vqa/acc", 50}});
  add("wanda", 0.5, 1, {{"vqa/acc", 52}});
  add("wanda", 0.7, 0, {{"vqa/acc", 40}});
  add("magnitude", 0.5, 0, {{"vqa/acc", 45}});
  add("magnitude", 0.7, 0, {{"other", 1}});  // no accuracy: no point, not a point at 0
  const auto plot = build(kCurve);
  EXPECT_CONTAINS(plot.data,
                  "# [0] series: wanda; y: VQA (vqa/acc)\n# x\tx_sd\ty\ty_sd\tn\n"
                  "0.5\t0\t51\t1.414213562\t2\n0.7\t0\t40\t0\t1\n");
  EXPECT_CONTAINS(plot.data,
                  "\n\n\n# [1] series: magnitude; y: VQA (vqa/acc)\n# x\tx_sd\ty\ty_sd\tn\n"
                  "0.5\t0\t45\t0\t1\n");
  EXPECT_EQ(plot.data.find("0.7\t0\t0"), std::string::npos) << plot.data;
  // The header names every run drawn, by series.
  EXPECT_CONTAINS(plot.data,
                  "# runs (5; the newest FINISHED run per config hash):\n"
                  "#   00000000000000000000000000000001\twanda\tpruner.sparsity=0.5\tseed=0\n");
  // Error bars where a point averages seeds, plain lines where none does.
  EXPECT_CONTAINS(plot.script, "data index 0 using 1:3:4 with yerrorlines");
  EXPECT_CONTAINS(plot.script, "data index 1 using 1:3 with linespoints");
  EXPECT_CONTAINS(plot.script, "title 'wanda'");
  EXPECT_CONTAINS(plot.script, "set xlabel 'pruner.sparsity'\nset ylabel 'VQA'\n");
}

TEST_F(PlotTest, AMetricXAveragesSeedsOfOneConfigWithErrorBarsOnBothAxes) {
  add("wanda", 0.5, 0, {{"vqa/acc", 50}, {"achieved", 0.49}});
  add("wanda", 0.5, 1, {{"vqa/acc", 52}, {"achieved", 0.51}});
  add("wanda", 0.7, 0, {{"vqa/acc", 40}, {"achieved", 0.7}});
  const auto plot = build("kind: curve\nseries: pruner\nx: achieved\ny: [vqa/acc]\n");
  EXPECT_CONTAINS(plot.data, "0.5\t0.01414213562\t51\t1.414213562\t2\n0.7\t0\t40\t0\t1\n");
  EXPECT_CONTAINS(plot.script, "using 1:3:2:4 with xyerrorlines");
}

TEST_F(PlotTest, SameStoreAndSpecGiveByteIdenticalFiles) {
  add("wanda", 0.5, 0, {{"vqa/acc", 50}, {"memory/prune/peak_bytes", 2097152}}, layers(0.4, 0.6, 0.5));
  add("owl", 0.5, 0, {{"vqa/acc", 49}, {"memory/prune/peak_bytes", 1048576}}, layers(0.3, 0.7, 0.5));
  const std::vector<std::string> specs = {kCurve, "kind: blocks\nseries: pruner\n",
                                          "kind: bars\nseries: pruner\nbars: ['memory/*/peak_bytes']\n"};
  for (const auto& spec : specs) {
    const auto a = build(spec), b = build(spec);
    EXPECT_EQ(a.data, b.data);
    EXPECT_EQ(a.script, b.script);
  }
  testing::TempDir dir;
  const auto options = PlotOptions().outDir(dir.path().string()).gnuplot("");
  std::string first;
  for (int i = 0; i < 2; ++i) {
    errorOf([&] { writePlot(store_, YAML::Load(kCurve), "p", options); });  // no gnuplot: the files still come
    const auto now = readFile(dir / "p.dat") + readFile(dir / "p.gp");
    if (i == 0) first = now;
    EXPECT_EQ(now, first);
  }
  EXPECT_FALSE(first.empty());
}

TEST_F(PlotTest, UnknownKeysAndMetricsAreErrorsNamingTheNearestValidName) {
  add("wanda", 0.5, 0, {{"vqa/acc", 50}});
  EXPECT_CONTAINS(errorOf([&] { build(std::string(kCurve) + "seires: pruner\n"); }), "did you mean 'series'");
  EXPECT_CONTAINS(errorOf([&] { build(std::string(kCurve) + "stacked: true\n"); }),
                  "'stacked' is a key of kind bars, but this spec's kind is curve");
  EXPECT_CONTAINS(errorOf([&] { build("kind: curves\nx: a\ny: b\n"); }), "did you mean 'curve'");
  EXPECT_CONTAINS(errorOf([&] { build("kind: curve\nx: pruner.sparsity\ny: vqa/acx\n"); }),
                  "metric 'vqa/acx' (y) is not recorded by any plotted run (did you mean 'vqa/acc'?)");
  EXPECT_CONTAINS(errorOf([&] { build("kind: curve\nx: pruner.sparsty\ny: vqa/acc\n"); }),
                  "did you mean 'pruner.sparsity'");
  EXPECT_CONTAINS(errorOf([&] { build("kind: curve\nseries: prunr\nx: pruner.sparsity\ny: vqa/acc\n"); }),
                  "did you mean 'pruner'");
  EXPECT_CONTAINS(errorOf([&] { build("kind: bars\nbars: ['memory/*']\n"); }), "matches no metric");
  EXPECT_CONTAINS(errorOf([&] { build(std::string(kCurve) + "formats: [pdf]\n"); }), "use 'svg', 'png'");
  EXPECT_CONTAINS(errorOf([&] { build("kind: curve\nruns: {name: nope}\nx: a\ny: b\n"); }), "no FINISHED run matches");
  // A metric only runs outside `where` record counts as missing.
  add("owl", 0.5, 0, {{"ppl", 9}});
  EXPECT_CONTAINS(errorOf([&] { build("kind: bars\nwhere: {pruner: wanda}\nbars: [ppl]\n"); }),
                  "metric 'ppl' (bars) is not recorded by any plotted run");
}

TEST_F(PlotTest, BlocksAverageEachBlocksMatricesByNumelOnePanelPerModality) {
  add("wanda", 0.5, 0, {}, layers(0.5, 0.5, 0.5));
  add("owl", 0.5, 0, {}, layers(0.3, 0.7, 0.6));
  add("owl", 0.5, 1, {}, layers(0.5, 0.7, 0.6));
  const auto plot = build(
      "kind: blocks\ntitle: blocks\nseries: pruner\norder: {pruner: [owl]}\nlabels: {wanda: uniform}\n"
      "panels: [vision, language]\n");
  // owl, vision block 0: (0.3*300 + 0.7*100)/400 = 0.4 and (0.5*300 + 0.9*100)/400 = 0.6.
  EXPECT_CONTAINS(plot.data,
                  "# [0] panel: vision; series: owl\n# x\tvalue\tsd\tn\tblock\n"
                  "0\t0.5\t0.1414213562\t2\tvision.blocks.0\n1\t0.7\t0\t2\tvision.blocks.1\n");
  EXPECT_CONTAINS(plot.data,
                  "# [1] panel: vision; series: uniform\n# x\tvalue\tsd\tn\tblock\n"
                  "0\t0.6\t0\t1\tvision.blocks.0\n1\t0.5\t0\t1\tvision.blocks.1\n");
  EXPECT_CONTAINS(plot.data, "# [2] panel: language; series: owl\n# x\tvalue\tsd\tn\tblock\n0\t0.6\t0\t2\t");
  EXPECT_CONTAINS(plot.script, "set multiplot layout 1,2 title 'blocks'\n  set title 'vision'\n");
  EXPECT_CONTAINS(plot.script, "set xtics ('0' 0, '1' 1)");
  EXPECT_CONTAINS(plot.script, "title 'uniform'");
  const auto achieved = build("kind: blocks\nseries: pruner\nvalue: achieved\npanels: [language]\n");
  EXPECT_CONTAINS(achieved.data, "0\t0.59\t0\t2\tlanguage.blocks.0\n");
  EXPECT_CONTAINS(errorOf([&] { build("kind: blocks\npanels: [visoin]\n"); }), "did you mean 'vision'");
}

TEST_F(PlotTest, BarsExpandPatternsAndLeaveMissingBarsAsGaps) {
  add("wanda", 0.5, 0, {{"time/fine/seconds", 2}, {"time/calibrate/seconds", 1}});
  add("wanda", 0.5, 1, {{"time/fine/seconds", 4}, {"time/calibrate/seconds", 1}});
  add("magnitude", 0.5, 0, {{"time/fine/seconds", 0.5}});  // no calibration stage
  add("none", 0.0, 0, {{"vqa/acc", 60}});                  // no bar at all: left out
  const auto plot = build("kind: bars\nseries: pruner\nbars: ['time/*/seconds']\nylabel: s\n");
  EXPECT_CONTAINS(plot.data,
                  "# series\tcalibrate\tcalibrate sd\tcalibrate n\tfine\tfine sd\tfine n\n"
                  "magnitude\t?\t?\t0\t0.5\t0\t1\nwanda\t1\t0\t2\t3\t1.414213562\t2\n");
  EXPECT_CONTAINS(plot.data, "# left out (no bar recorded): none\n");
  EXPECT_CONTAINS(plot.script, "set style histogram errorbars");
  EXPECT_CONTAINS(plot.script,
                  "plot data using 2:3:xtic(1) lt 1 lw 1 title 'calibrate', \\\n       '' using 5:6 lt 2 lw 1 "
                  "title 'fine'\n");
  const auto stacked = build(
      "kind: bars\nseries: pruner\nstacked: true\nbars: [{metric: time/fine/seconds, "
      "label: fine, divide: 0.5}]\n");
  EXPECT_CONTAINS(stacked.data, "wanda\t6\t2.828427125\t2\n");
  EXPECT_CONTAINS(stacked.script, "rowstacked");
  EXPECT_CONTAINS(stacked.script, "using 2:xtic(1)");
  // A later series key is named only where it tells apart series with the same first value.
  const auto both = build("kind: bars\nseries: [pruner, pruner.sparsity]\nbars: [time/fine/seconds]\n");
  EXPECT_CONTAINS(both.data, "\nmagnitude\t0.5\t");
  add("wanda", 0.7, 0, {{"time/fine/seconds", 8}});
  const auto split = build("kind: bars\nseries: [pruner, pruner.sparsity]\nbars: [time/fine/seconds]\n");
  EXPECT_CONTAINS(split.data, "\nmagnitude\t0.5\t0\t1\nwanda, sparsity=0.5\t3\t");
  EXPECT_CONTAINS(split.data, "\nwanda, sparsity=0.7\t8\t0\t1\n");
}

TEST_F(PlotTest, TheScriptSetsATerminalPerRequestedFormat) {
  add("wanda", 0.5, 0, {{"vqa/acc", 50}});
  const auto both = build(kCurve);
  EXPECT_CONTAINS(both.script, "data = 'p.dat'\n");
  EXPECT_CONTAINS(both.script, "do for [fmt in 'svg png'] {");
  EXPECT_CONTAINS(both.script, "set terminal svg size 900,500");
  EXPECT_CONTAINS(both.script, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n      set terminal pngcairo");
  EXPECT_CONTAINS(both.script, "set terminal png size 900,500");
  EXPECT_CONTAINS(both.script, "set output 'p.'.fmt\n");
  EXPECT_EQ(both.formats, (std::vector<std::string>{"svg", "png"}));
  const auto svg = build(std::string(kCurve) + "formats: [svg]\noutput: it's\nsize: [640, 480]\n");
  EXPECT_EQ(svg.name, "it's");
  EXPECT_CONTAINS(svg.script, "do for [fmt in 'svg'] {");
  EXPECT_CONTAINS(svg.script, "data = 'it''s.dat'\n");
  EXPECT_CONTAINS(svg.script, "size 640,480");
}

TEST_F(PlotTest, WithoutGnuplotTheDataAndScriptAreWrittenAndTheErrorSaysHowToInstallIt) {
  add("wanda", 0.5, 0, {{"vqa/acc", 50}});
  testing::TempDir dir;
  const auto message = errorOf([&] {
    writePlot(store_, YAML::Load(kCurve), "curve",
              PlotOptions().outDir((dir / "out").string()).gnuplot("/nonexistent/gnuplot"));
  });
  EXPECT_CONTAINS(message, "apt-get install gnuplot-nox");
  EXPECT_CONTAINS(message, "scripts/setup.sh");
  EXPECT_TRUE(fs::exists(dir / "out" / "curve.dat"));
  EXPECT_TRUE(fs::exists(dir / "out" / "curve.gp"));
  EXPECT_FALSE(fs::exists(dir / "out" / "curve.svg"));
}

TEST_F(PlotTest, GnuplotDrawsEveryKindAsSvgAndPng) {
  if (!haveGnuplot()) GTEST_SKIP() << "gnuplot is not installed (apt-get install gnuplot-nox)";
  add("wanda", 0.5, 0, {{"vqa/acc", 50}, {"time/fine/seconds", 1}}, layers(0.5, 0.5, 0.5));
  add("wanda", 0.5, 1, {{"vqa/acc", 52}, {"time/fine/seconds", 2}}, layers(0.5, 0.5, 0.5));
  add("owl_&<x>", 0.7, 0, {{"vqa/acc", 40}}, layers(0.6, 0.8, 0.7));  // text the SVG must escape
  testing::TempDir dir;
  const auto options = PlotOptions().outDir(dir.path().string());
  const std::vector<std::pair<std::string, std::string>> specs = {
      {"curve", kCurve},
      {"blocks", "kind: blocks\nseries: pruner\nformats: [svg, png]\n"},
      {"bars", "kind: bars\nseries: pruner\nbars: [time/fine/seconds]\nformats: [svg]\n"}};
  for (const auto& [name, spec] : specs) {
    const auto files = writePlot(store_, YAML::Load(spec), name, options);
    ASSERT_FALSE(files.figures.empty());
    const auto svg = readFile(files.figures[0]);
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << name;
    EXPECT_CONTAINS(svg, "</svg>");
    EXPECT_EQ(svg.find("owl_&<x>"), std::string::npos) << name;
    if (files.figures.size() > 1) {
      EXPECT_EQ(readFile(files.figures[1]).substr(1, 3), "PNG") << name;
    }
  }
}

}  // namespace
}  // namespace prunelab::results
