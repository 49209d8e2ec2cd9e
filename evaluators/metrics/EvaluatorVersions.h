#pragma once

namespace prunelab::evaluators {

// Versions stored with every metric, shared by the in-process evaluators and `prunelab score` so numbers
// from both paths carry the same stamp. Bump one when the numbers its metric code produces would change.

/// VQA accuracy (VqaEval: vqaEval.py cleaning, normalisation and aggregation).
inline constexpr char kVqaEvaluatorVersion[] = "vqa-2";
/// COCO caption metrics (CaptionScorer: cocoTokenize, BLEU-1..4, CIDEr-D, ROUGE-L).
inline constexpr char kCaptionEvaluatorVersion[] = "caption-1";
/// Chunked LM perplexity and its add-one unigram baseline (evaluators/perplexity).
inline constexpr char kPerplexityEvaluatorVersion[] = "perplexity-1";
/// Image-text retrieval R@K by ITC similarity (evaluators/retrieval).
inline constexpr char kRetrievalEvaluatorVersion[] = "retrieval-1";
/// Inference latency, throughput and parameter counts (evaluators/speed).
inline constexpr char kSpeedEvaluatorVersion[] = "speed-1";
/// Prompt-ensemble zero-shot classification (evaluators/zeroshot).
inline constexpr char kZeroShotEvaluatorVersion[] = "zeroshot-1";

}  // namespace prunelab::evaluators
