#include <gtest/gtest.h>

#include <map>
#include <string>

#include "evaluators/speed/SpeedEvaluator.h"
#include "tests/pruners/TinyPruneSetup.h"
#include "tests/support/Assertions.h"

namespace prunelab::evaluators {
namespace {

using testing::errorOf;

// The tiny model, counting its loss calls and remembering the first input row of each.
class CountingModel : public testing::TinyBlockModel {
 public:
  using TinyBlockModel::TinyBlockModel;
  torch::Tensor loss(const model::Batch& batch) override {
    ++calls;
    batchSizes.push_back(batch.at("inputs").size(0));
    firstValues.push_back(batch.at("inputs")[0][0].item<float>());
    EXPECT_FALSE(torch::GradMode::is_enabled());
    return TinyBlockModel::loss(batch);
  }
  int calls = 0;
  std::vector<std::int64_t> batchSizes;
  std::vector<float> firstValues;
};

std::map<std::string, double> byKey(const std::vector<store::MetricRecord>& records) {
  std::map<std::string, double> out;
  for (const auto& r : records) out[r.key] = r.value;
  return out;
}

SpeedEvaluator::Options options() {
  SpeedEvaluator::Options o;
  o.split = "train";
  o.batch_size = 16;
  o.batches = 2;
  o.warmup = 1;
  o.repeats = 5;
  o.validate();
  return o;
}

TEST(SpeedEvaluator, TimesWarmupPlusRepeatsCallsOnTheSameFirstBatchesAndCountsParameters) {
  CountingModel model(8, 2, 3);
  testing::InputsSource data(64, 8, 7);
  run::EvalContext ctx{model, data, 0};
  std::int64_t params = 0;
  for (const auto& p : model.module().parameters()) params += p.numel();

  const auto m = byKey(SpeedEvaluator(options()).evaluate(ctx));
  EXPECT_EQ(model.calls, 6);
  EXPECT_EQ(model.batchSizes, std::vector<std::int64_t>(6, 16));
  // Batches 0, 1, 0, 1, ...: the first rows of the split in order, the same in every run.
  const auto rows = data.split("train")->get({0, 16});
  const float first = rows.at("inputs")[0][0].item<float>(), second = rows.at("inputs")[1][0].item<float>();
  EXPECT_EQ(model.firstValues, (std::vector<float>{first, second, first, second, first, second}));

  const std::string p = "speed/inputs/train/";
  EXPECT_EQ(m.at(p + "params"), static_cast<double>(params));
  EXPECT_EQ(m.at(p + "nonzero_params"), static_cast<double>(params));
  EXPECT_EQ(m.at(p + "param_bytes"), static_cast<double>(params * 4));
  EXPECT_EQ(m.at(p + "batch_size"), 16.0);
  EXPECT_GT(m.at(p + "latency_ms"), 0.0);
  EXPECT_LE(m.at(p + "latency_min_ms"), m.at(p + "latency_ms"));
  EXPECT_LE(m.at(p + "latency_ms"), m.at(p + "latency_max_ms"));
  EXPECT_DOUBLE_EQ(m.at(p + "throughput"), 16.0 * 1000.0 / m.at(p + "latency_ms"));
}

TEST(SpeedEvaluator, NonzeroParamsDropByTheZeroedWeightsAndParamsStay) {
  testing::TinyPruneSetup s(8, 2, 3);
  run::EvalContext ctx{s.model, s.data, 0};
  const std::string p = "speed/inputs/train/";
  const auto before = byKey(SpeedEvaluator(options()).evaluate(ctx));
  auto fc1 = s.targets().front();
  {
    torch::NoGradGuard noGrad;
    fc1.layer->weight.narrow(0, 0, 4).zero_();
  }
  const auto after = byKey(SpeedEvaluator(options()).evaluate(ctx));
  EXPECT_EQ(after.at(p + "params"), before.at(p + "params"));
  EXPECT_EQ(after.at(p + "nonzero_params"), before.at(p + "nonzero_params") - 4 * fc1.layer->weight.size(1));
}

TEST(SpeedEvaluator, TooSmallSplitFailsWithTheFix) {
  testing::TinyPruneSetup s(8, 2, 3);
  run::EvalContext ctx{s.model, s.data, 0};
  auto o = options();
  o.batch_size = 100;
  EXPECT_CONTAINS(errorOf([&] { SpeedEvaluator(o).evaluate(ctx); }), "lower speed.batch_size");
  o = options();
  o.repeats = 0;
  EXPECT_CONTAINS(errorOf([&] { o.validate(); }), "repeats must be positive");
}

}  // namespace
}  // namespace prunelab::evaluators
