#include "models/transformer/Generation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "framework/core/Error.h"

namespace prunelab::models {

namespace {

struct Hypothesis {
  std::vector<std::int64_t> tokens;  // generated so far, without [EOS]
  double logProb = 0;                // sum of log p of the generated tokens ([EOS] included once finished)
};

// The rows of one step: every alive hypothesis of every unfinished item, prompt + generated ids.
torch::Tensor stepTokens(const torch::Tensor& prompts, const std::vector<std::int64_t>& items,
                         const std::vector<const std::vector<std::int64_t>*>& generated) {
  const auto n = static_cast<std::int64_t>(items.size());
  const std::int64_t promptLen = prompts.size(1);
  const std::int64_t len = promptLen + static_cast<std::int64_t>(generated.empty() ? 0 : generated[0]->size());
  auto out = torch::empty({n, len}, torch::kInt64);
  auto o = out.accessor<std::int64_t, 2>();
  auto p = prompts.accessor<std::int64_t, 2>();
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t j = 0; j < promptLen; ++j) o[r][j] = p[items[static_cast<std::size_t>(r)]][j];
    const auto& g = *generated[static_cast<std::size_t>(r)];
    for (std::size_t j = 0; j < g.size(); ++j) o[r][promptLen + static_cast<std::int64_t>(j)] = g[j];
  }
  return out;
}

torch::Tensor runStep(const NextTokenLogProbs& step, const torch::Tensor& prompts, const std::vector<std::int64_t>& items,
                      const std::vector<const std::vector<std::int64_t>*>& generated, std::int64_t generatedLen,
                      const model::GenerationOptions& o, std::int64_t eos) {
  auto itemsT = torch::tensor(items, torch::kInt64);
  auto lp = step(itemsT, stepTokens(prompts, items, generated)).to(torch::kCPU, torch::kFloat64).contiguous();
  PL_CHECK(lp.dim() == 2 && lp.size(0) == static_cast<std::int64_t>(items.size()) && eos < lp.size(1),
           "generation: the model returned log-probabilities of shape {} for {} rows", c10::str(lp.sizes()),
           items.size());
  if (generatedLen < o.minLength) lp.select(1, eos).fill_(-std::numeric_limits<double>::infinity());
  return lp;
}

std::vector<std::vector<std::int64_t>> greedy(const NextTokenLogProbs& step, const torch::Tensor& prompts,
                                              const model::GenerationOptions& o, std::int64_t eos) {
  const std::int64_t n = prompts.size(0);
  std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(n));
  std::vector<bool> done(static_cast<std::size_t>(n), false);
  for (std::int64_t t = 0; t < o.maxLength; ++t) {
    std::vector<std::int64_t> items;
    std::vector<const std::vector<std::int64_t>*> generated;
    for (std::int64_t i = 0; i < n; ++i)
      if (!done[static_cast<std::size_t>(i)]) items.push_back(i), generated.push_back(&out[static_cast<std::size_t>(i)]);
    if (items.empty()) break;
    auto lp = runStep(step, prompts, items, generated, t, o, eos);
    // argmax returns the first maximum: ties go to the lower id.
    auto best = lp.argmax(1);
    auto b = best.accessor<std::int64_t, 1>();
    for (std::size_t r = 0; r < items.size(); ++r) {
      const auto i = static_cast<std::size_t>(items[r]);
      if (b[static_cast<std::int64_t>(r)] == eos) done[i] = true;
      else out[i].push_back(b[static_cast<std::int64_t>(r)]);
    }
  }
  return out;
}

std::vector<std::vector<std::int64_t>> beam(const NextTokenLogProbs& step, const torch::Tensor& prompts,
                                            const model::GenerationOptions& o, std::int64_t eos) {
  const std::int64_t n = prompts.size(0);
  const auto beams = static_cast<std::size_t>(o.numBeams);
  auto normalised = [&](double logProb, std::int64_t length) {
    return logProb / std::pow(static_cast<double>(length), o.lengthPenalty);
  };
  std::vector<std::vector<Hypothesis>> alive(static_cast<std::size_t>(n), std::vector<Hypothesis>(1));
  // Finished hypotheses per item: (normalised score, tokens), best first, at most `beams`.
  std::vector<std::vector<std::pair<double, std::vector<std::int64_t>>>> finished(static_cast<std::size_t>(n));
  std::vector<bool> done(static_cast<std::size_t>(n), false);
  auto addFinished = [&](std::size_t item, double score, std::vector<std::int64_t> tokens) {
    auto& f = finished[item];
    if (f.size() == beams && score <= f.back().first) return;
    auto at = std::find_if(f.begin(), f.end(), [&](const auto& e) { return score > e.first; });
    f.insert(at, {score, std::move(tokens)});
    if (f.size() > beams) f.pop_back();
  };
  for (std::int64_t t = 0; t < o.maxLength; ++t) {
    std::vector<std::int64_t> items;
    std::vector<const std::vector<std::int64_t>*> generated;
    for (std::int64_t i = 0; i < n; ++i) {
      if (done[static_cast<std::size_t>(i)]) continue;
      for (const auto& h : alive[static_cast<std::size_t>(i)]) items.push_back(i), generated.push_back(&h.tokens);
    }
    if (items.empty()) break;
    auto lp = runStep(step, prompts, items, generated, t, o, eos);
    const std::int64_t vocab = lp.size(1);
    std::int64_t row = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto item = static_cast<std::size_t>(i);
      if (done[item]) continue;
      auto& hyps = alive[item];
      const auto nb = static_cast<std::int64_t>(hyps.size());
      auto scores = lp.narrow(0, row, nb).clone();
      for (std::int64_t j = 0; j < nb; ++j) scores[j] += hyps[static_cast<std::size_t>(j)].logProb;
      row += nb;
      const std::int64_t k = std::min<std::int64_t>(2 * o.numBeams, nb * vocab);
      // A stable descending sort: equal scores keep the order (beam, token id).
      auto flat = scores.reshape({-1});
      auto order = std::get<1>(flat.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true)).narrow(0, 0, k);
      auto ord = order.accessor<std::int64_t, 1>();
      auto fl = flat.accessor<double, 1>();
      std::vector<Hypothesis> next;
      for (std::int64_t c = 0; c < k && next.size() < beams; ++c) {
        const std::int64_t idx = ord[c];
        const double s = fl[idx];
        if (!std::isfinite(s)) break;
        const auto& parent = hyps[static_cast<std::size_t>(idx / vocab)];
        const std::int64_t token = idx % vocab;
        if (token == eos) {
          if (c < o.numBeams) addFinished(item, normalised(s, t + 1), parent.tokens);
          continue;
        }
        Hypothesis h{parent.tokens, s};
        h.tokens.push_back(token);
        next.push_back(std::move(h));
      }
      hyps = std::move(next);
      if (hyps.empty()) {
        done[item] = true;
        continue;
      }
      if (finished[item].size() == beams) {
        double bestAlive = -std::numeric_limits<double>::infinity();
        for (const auto& h : hyps) bestAlive = std::max(bestAlive, h.logProb);
        if (finished[item].back().first >= normalised(bestAlive, t + 1)) done[item] = true;
      }
    }
  }
  std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto item = static_cast<std::size_t>(i);
    if (!done[item])
      for (const auto& h : alive[item]) addFinished(item, normalised(h.logProb, o.maxLength), h.tokens);
    if (!finished[item].empty()) out[item] = finished[item].front().second;
  }
  return out;
}

}  // namespace

std::vector<std::vector<std::int64_t>> decodeTokens(const NextTokenLogProbs& step, const torch::Tensor& prompts,
                                                    const model::GenerationOptions& o, std::int64_t eos) {
  PL_CHECK(prompts.dim() == 2 && prompts.scalar_type() == torch::kInt64,
           "generation: prompts must be int64 token ids [items, length], got {}", c10::str(prompts.sizes()));
  PL_CHECK(o.numBeams >= 1, "generation: num_beams must be at least 1, got {}", o.numBeams);
  PL_CHECK(o.maxLength >= 1, "generation: max_len must be at least 1, got {}", o.maxLength);
  PL_CHECK(o.minLength >= 0 && o.minLength <= o.maxLength, "generation: min_len must be in [0, max_len={}], got {}",
           o.maxLength, o.minLength);
  const auto cpuPrompts = prompts.to(torch::kCPU).contiguous();
  return o.numBeams == 1 ? greedy(step, cpuPrompts, o, eos) : beam(step, cpuPrompts, o, eos);
}

}  // namespace prunelab::models
