#include "evaluators/perplexity/PerplexityEvaluator.h"

#include "evaluators/metrics/Perplexity.h"
#include "framework/core/Progress.h"
#include "framework/data/Dataset.h"

namespace prunelab::evaluators {

namespace {

constexpr std::int64_t kPad = 0;

// The non-padding "tokens" of a split, row after row.
torch::Tensor tokenStream(const data::DataSource& data, const std::string& name) {
  auto split = data.split(name);
  data::BatchSampler sampler(*split, 4096);
  std::vector<torch::Tensor> parts;
  for (std::int64_t b = 0; b < sampler.numBatches(); ++b) {
    auto rows = sampler.batch(b).at("tokens");
    PL_CHECK(rows.dim() == 2 && rows.scalar_type() == torch::kInt64,
             "perplexity: split '{}' field 'tokens' must be int64 [batch, length], got {}", name,
             c10::str(rows.sizes()));
    parts.push_back(rows.masked_select(rows.ne(kPad)));
  }
  PL_CHECK(!parts.empty(), "perplexity: split '{}' is empty", name);
  return torch::cat(parts);
}

}  // namespace

std::vector<store::MetricRecord> PerplexityEvaluator::evaluate(run::EvalContext& ctx) {
  auto* head = dynamic_cast<model::LanguageModelHead*>(&ctx.model);
  PL_CHECK(head != nullptr,
           "evaluator 'perplexity' needs a language model (a LanguageModelHead, e.g. model=mini_lm); "
           "this model has none: choose another evaluator or model");
  const std::int64_t vocab = head->vocabSize();
  const std::int64_t seqLen = options_.seq_len > 0 ? options_.seq_len : head->maxLength();
  PL_CHECK(seqLen <= head->maxLength(), "perplexity: seq_len {} exceeds the model's {} positions", seqLen,
           head->maxLength());

  const torch::Tensor stream = tokenStream(ctx.data, options_.split);
  PL_CHECK(stream.max().item<std::int64_t>() < vocab,
           "perplexity: split '{}' holds token id {} outside the model's "
           "vocabulary of {}",
           options_.split, stream.max().item<std::int64_t>(), vocab);
  const ChunkPlan plan = planChunks(stream.size(0), seqLen);
  const std::int64_t numChunks = options_.limit > 0 ? std::min(options_.limit, plan.numChunks) : plan.numChunks;
  const torch::Tensor chunks = stream.narrow(0, 0, numChunks * seqLen).view({numChunks, seqLen});

  // Add-one unigram log-probabilities over the model's vocabulary.
  const torch::Tensor train = tokenStream(ctx.data, options_.unigram_split);
  PL_CHECK(train.max().item<std::int64_t>() < vocab,
           "perplexity: split '{}' holds token id {} outside the model's "
           "vocabulary of {}",
           options_.unigram_split, train.max().item<std::int64_t>(), vocab);
  const torch::Tensor counts = torch::bincount(train, {}, vocab).to(torch::kFloat64);
  const torch::Tensor unigramNll = -((counts + 1.0) / (static_cast<double>(train.size(0)) + vocab)).log();

  std::vector<double> modelCe, unigramCe;
  modelCe.reserve(static_cast<std::size_t>(numChunks));
  unigramCe.reserve(static_cast<std::size_t>(numChunks));
  torch::NoGradGuard noGrad;
  ctx.model.module().eval();
  const std::int64_t numBatches = (numChunks + options_.batch_size - 1) / options_.batch_size;
  Progress progress("evaluate perplexity/" + options_.split, numBatches, "batch");
  for (std::int64_t b = 0; b < numBatches; ++b) {
    const std::int64_t begin = b * options_.batch_size;
    auto batch = chunks.narrow(0, begin, std::min(options_.batch_size, numChunks - begin));
    auto logProbs = head->nextTokenLogProbs(batch);
    PL_CHECK(logProbs.dim() == 3 && logProbs.size(0) == batch.size(0) && logProbs.size(1) == seqLen &&
                 logProbs.size(2) == vocab,
             "the model returned log-probabilities of shape {} for {} chunks of {} tokens and {} words",
             c10::str(logProbs.sizes()), batch.size(0), seqLen, vocab);
    auto targets = batch.narrow(1, 1, seqLen - 1);
    auto nll = -logProbs.narrow(1, 0, seqLen - 1).gather(2, targets.unsqueeze(2)).squeeze(2).to(torch::kFloat64);
    auto chunkCe = nll.mean(1).contiguous();
    auto uniCe = unigramNll.index({targets}).mean(1).contiguous();
    modelCe.insert(modelCe.end(), chunkCe.data_ptr<double>(), chunkCe.data_ptr<double>() + chunkCe.numel());
    unigramCe.insert(unigramCe.end(), uniCe.data_ptr<double>(), uniCe.data_ptr<double>() + uniCe.numel());
    progress.advance();
  }
  progress.finish();

  std::string splitKey = options_.split;
  if (splitKey.rfind("lm_", 0) == 0) splitKey = splitKey.substr(3);
  const std::string prefix = "lm/" + ctx.data.name() + "/" + splitKey + "/";
  return {{prefix + "ppl", perplexityFromChunkLosses(modelCe, seqLen), 0, ""},
          {prefix + "unigram_ppl", perplexityFromChunkLosses(unigramCe, seqLen), 0, ""},
          {prefix + "chunks", static_cast<double>(numChunks), 0, ""},
          {prefix + "tokens", static_cast<double>(numChunks * (seqLen - 1)), 0, ""}};
}

}  // namespace prunelab::evaluators
