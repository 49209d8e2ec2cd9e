#include "framework/model/Distillation.h"

#include "framework/core/Error.h"

namespace prunelab::model {

void StackRecording::clear() {
  hidden.clear();
  selfAttention.clear();
  crossAttention.clear();
}

int depthRatio(int teacherBlocks, int studentBlocks) {
  PL_CHECK(studentBlocks > 0 && teacherBlocks >= studentBlocks && teacherBlocks % studentBlocks == 0,
           "distillation: a teacher of {} blocks and a student of {} cannot be mapped layer to layer; the teacher's "
           "depth must be a whole multiple of the student's (EfficientVLM: 2)",
           teacherBlocks, studentBlocks);
  return teacherBlocks / studentBlocks;
}

namespace {

torch::Tensor zeroLike(const std::vector<torch::Tensor>& any) {
  return any.empty() ? torch::zeros({}) : torch::zeros({}, any.front().options());
}

void checkSameShape(const torch::Tensor& s, const torch::Tensor& t, const char* what, std::size_t index) {
  PL_CHECK(s.sizes() == t.sizes(),
           "distillation: the student's {} {} has shape {} but the teacher's mapped one {}: the two models must have "
           "the same widths, heads and inputs",
           what, index, c10::str(s.sizes()), c10::str(t.sizes()));
}

}  // namespace

torch::Tensor attentionKd(const std::vector<torch::Tensor>& student, const std::vector<torch::Tensor>& teacher) {
  if (student.empty() && teacher.empty()) return torch::zeros({});
  const int k = depthRatio(static_cast<int>(teacher.size()), static_cast<int>(student.size()));
  auto sum = zeroLike(student);
  for (std::size_t i = 0; i < student.size(); ++i) {
    const auto& t = teacher[static_cast<std::size_t>(teacherAttentionIndex(static_cast<int>(i), k))];
    checkSameShape(student[i], t, "attention map", i);
    // reference: MSE(A_s, A_t) * seq_len, seq_len = the query length.
    sum = sum + torch::mse_loss(student[i], t.detach()) * static_cast<double>(student[i].size(-2));
  }
  return sum;
}

torch::Tensor hiddenKd(const StackRecording& student, const StackRecording& teacher) {
  PL_CHECK(!student.hidden.empty() && !teacher.hidden.empty(),
           "distillation: a stack recorded no hidden states (was a recording attached during the forward?)");
  const int k = depthRatio(static_cast<int>(teacher.hidden.size()) - 1, static_cast<int>(student.hidden.size()) - 1);
  auto sum = zeroLike(student.hidden);
  const std::size_t last = student.hidden.size() - 1;
  for (std::size_t j = 0; j <= last; ++j) {
    if ((j == 0 && !student.compareInput) || (j == last && !student.compareOutput)) continue;
    const auto& t = teacher.hidden[static_cast<std::size_t>(teacherHiddenIndex(static_cast<int>(j), k))];
    checkSameShape(student.hidden[j], t, "hidden state", j);
    sum = sum + torch::mse_loss(student.hidden[j], t.detach());
  }
  return sum;
}

torch::Tensor logitKd(const torch::Tensor& student, const torch::Tensor& teacher, double temperature) {
  PL_CHECK(temperature > 0, "distillation: the KL temperature must be positive, got {}", temperature);
  PL_CHECK(student.sizes() == teacher.sizes() && student.dim() >= 1,
           "distillation: student logits {} and teacher logits {} must have the same shape", c10::str(student.sizes()),
           c10::str(teacher.sizes()));
  const auto classes = student.size(-1);
  const auto s = torch::log_softmax(student.reshape({-1, classes}) / temperature, -1);
  const auto t = torch::softmax(teacher.detach().reshape({-1, classes}) / temperature, -1);
  // Σ t·(log t − log s) per row; xlogy makes 0·log 0 = 0 as kl_div does.
  return (torch::xlogy(t, t) - t * s).sum() / static_cast<double>(s.size(0));
}

torch::Tensor stacksKd(const Recordings& student, const Recordings& teacher,
                       const std::map<std::string, StackKdWeights>& weights) {
  torch::Tensor sum;
  for (const auto& [stack, w] : weights) {
    auto s = student.find(stack), t = teacher.find(stack);
    PL_CHECK(s != student.end() && t != teacher.end(),
             "distillation: stack '{}' has KD weights but was not recorded on the {} side: record it or drop its "
             "weights",
             stack, s == student.end() ? "student" : "teacher");
    auto term = w.hidden * hiddenKd(s->second, t->second) +
                w.attention * (attentionKd(s->second.selfAttention, t->second.selfAttention) +
                               attentionKd(s->second.crossAttention, t->second.crossAttention));
    sum = sum.defined() ? sum + term : term;
  }
  return sum.defined() ? sum : torch::zeros({});
}

}  // namespace prunelab::model
