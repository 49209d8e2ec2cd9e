#include "datasets/fashion_scenes/FashionScenes.h"

#include "datasets/fashion_scenes/SceneExport.h"
#include "framework/core/Hash.h"
#include "framework/core/Suggest.h"

namespace prunelab::datasets {

namespace {

const std::vector<std::string> kSceneSplits = {"train", "val", "test"};

// Equal-length tensors selected together; "images" (when present) are stored once as uint8 and
// looked up through a row index, so VQA questions share their scene's pixels.
class FieldDataset : public data::Dataset {
 public:
  FieldDataset(std::int64_t size, std::map<std::string, torch::Tensor> fields, torch::Tensor imagesU8 = {},
               torch::Tensor imageRows = {})
      : size_(size), fields_(std::move(fields)), images_(std::move(imagesU8)), rows_(std::move(imageRows)) {}

  std::int64_t size() const override { return size_; }

  model::Batch get(const std::vector<std::int64_t>& indices) const override {
    for (std::int64_t i : indices)
      PL_CHECK(i >= 0 && i < size_, "fashion_scenes: example index {} out of range [0, {})", i, size_);
    const auto idx = torch::tensor(indices, torch::kInt64);
    model::Batch b;
    for (const auto& [name, t] : fields_) b.set(name, t.index_select(0, idx));
    if (images_.defined())
      b.set("images", images_.index_select(0, rows_.index_select(0, idx)).to(torch::kFloat32).div_(255.0));
    return b;
  }

 private:
  std::int64_t size_;
  std::map<std::string, torch::Tensor> fields_;
  torch::Tensor images_, rows_;
};

torch::Tensor padded(const std::vector<std::vector<std::int64_t>>& rows, std::int64_t len) {
  auto t = torch::full({static_cast<std::int64_t>(rows.size()), len}, WordTokenizer::kPad, torch::kInt64);
  auto a = t.accessor<std::int64_t, 2>();
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < rows[i].size() && static_cast<std::int64_t>(j) < len; ++j)
      a[static_cast<std::int64_t>(i)][static_cast<std::int64_t>(j)] = rows[i][j];
  return t;
}

torch::Tensor int64s(const std::vector<std::int64_t>& v) {
  return torch::tensor(v, torch::kInt64).reshape({static_cast<std::int64_t>(v.size())});
}

torch::Tensor sceneImages(const std::vector<Scene>& scenes, int height, int width) {
  auto t = torch::zeros({static_cast<std::int64_t>(scenes.size()), 1, height, width}, torch::kUInt8);
  auto* dst = t.data_ptr<std::uint8_t>();
  for (std::size_t i = 0; i < scenes.size(); ++i)
    std::copy(scenes[i].pixels.begin(), scenes[i].pixels.end(), dst + i * static_cast<std::size_t>(height * width));
  return t;
}

int answerTypeIndex(const std::string& answerType) {
  if (answerType == "yes/no") return 0;
  if (answerType == "number") return 1;
  return 2;
}

std::string joinWords(const std::vector<std::string>& words, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end; ++i) out += (i > begin ? " " : "") + words[i];
  return out;
}

}  // namespace

void FashionScenes::Options::validate() const {
  SceneGenerator::Options::validate();
  PL_CHECK(calib_size >= 0, "calib_size must be >= 0, got {}", calib_size);
  PL_CHECK(max_text_len >= 8 && max_text_len <= 512, "max_text_len must be in [8, 512], got {}", max_text_len);
  PL_CHECK(zeroshot_size == -1 || zeroshot_size >= 0, "zeroshot_size must be -1 (all) or >= 0, got {}", zeroshot_size);
}

// The vocabulary is fixed (every word the generator can write), so the tokenizer exists before prepare().
FashionScenes::FashionScenes(Options options) : options_(std::move(options)), tokenizer_(SceneGenerator::vocabulary()) {
  options_.validate();
}

void FashionScenes::prepare() {
  if (prepared_) return;
  const Options& o = options_;
  if (o.import_dir.empty()) {
    SceneGenerator generator(o);
    generator.load();
    for (const auto& s : kSceneSplits) scenes_[s] = generator.generate(s);
    generatorFingerprint_ = generator.fingerprint();
  } else {
    // An unedited export keeps the generator's fingerprint; anything else is fingerprinted by content.
    bool original = true;
    std::string recorded;
    Sha256 contentHash;
    for (const auto& s : kSceneSplits) {
      ImportedScenes imported = importScenes(o.import_dir, s);
      const bool matches = imported.contentMatches();
      original = original && matches && (recorded.empty() || recorded == imported.generatorFingerprint);
      recorded = imported.generatorFingerprint;
      const std::string h = sceneContentHash(imported.scenes);
      contentHash.update(h.data(), h.size());
      scenes_[s] = std::move(imported.scenes);
    }
    const std::string content = contentHash.hex();
    generatorFingerprint_ = original ? recorded : sha256Hex("imported:" + content);
  }
  const std::int64_t T = o.max_text_len;

  torch::Tensor imagesBySplit[3];
  for (std::size_t si = 0; si < kSceneSplits.size(); ++si) {
    const std::string& split = kSceneSplits[si];
    const auto& scenes = scenes_[split];
    const int h = scenes.empty() ? 0 : scenes[0].height, w = scenes.empty() ? 0 : scenes[0].width;
    const std::size_t cells = scenes.empty() ? 0 : scenes[0].cells.size();
    std::size_t maxCaptions = 1;
    for (const Scene& s : scenes) {
      PL_CHECK(s.height == h && s.width == w && s.cells.size() == cells,
               "fashion_scenes: scene {} of split '{}' is {}x{} with {} cells, unlike the split's first scene "
               "({}x{}, {} cells)",
               s.id, split, s.height, s.width, s.cells.size(), h, w, cells);
      PL_CHECK(!s.captions.empty(), "fashion_scenes: scene {} of split '{}' has no caption", s.id, split);
      maxCaptions = std::max(maxCaptions, s.captions.size());
    }
    const auto n = static_cast<std::int64_t>(scenes.size());
    imagesBySplit[si] = sceneImages(scenes, h, w);
    auto cellField = [&](auto get) {
      auto t = torch::full({n, static_cast<std::int64_t>(cells)}, -1, torch::kInt64);
      auto a = t.accessor<std::int64_t, 2>();
      for (std::int64_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < cells; ++c) {
          const SceneCell& cell = scenes[static_cast<std::size_t>(i)].cells[c];
          if (!cell.empty()) a[i][static_cast<std::int64_t>(c)] = get(cell);
        }
      return t;
    };
    auto allCaptions = torch::full({n, static_cast<std::int64_t>(maxCaptions), T}, WordTokenizer::kPad, torch::kInt64);
    std::vector<std::vector<std::int64_t>> chosen;
    std::vector<std::int64_t> ids, captionIndex;
    for (std::int64_t i = 0; i < n; ++i) {
      const Scene& s = scenes[static_cast<std::size_t>(i)];
      ids.push_back(s.id);
      std::vector<std::vector<std::int64_t>> encoded;
      for (const auto& c : s.captions) encoded.push_back(tokenizer_.encode(c, T, true, true));
      allCaptions[i].narrow(0, 0, static_cast<std::int64_t>(encoded.size())).copy_(padded(encoded, T));
      const auto k = static_cast<std::size_t>(i) % s.captions.size();
      captionIndex.push_back(static_cast<std::int64_t>(k));
      chosen.push_back(encoded[k]);
    }
    splits_[split] = std::make_shared<FieldDataset>(
        n,
        std::map<std::string, torch::Tensor>{
            {"image_ids", int64s(ids)},
            {"labels", cellField([](const SceneCell& c) { return static_cast<std::int64_t>(c.label); })},
            {"shades", cellField([](const SceneCell& c) { return static_cast<std::int64_t>(c.shade); })},
            {"sizes", cellField([](const SceneCell& c) { return static_cast<std::int64_t>(c.size); })},
            {"all_captions", allCaptions},
            {"captions", padded(chosen, T)},
            {"caption_index", int64s(captionIndex)}},
        imagesBySplit[si], torch::arange(n, torch::kInt64));

    // VQA: one example per question, pointing at its scene's image row.
    std::vector<std::vector<std::int64_t>> questions, answers;
    std::vector<std::int64_t> qids, qimage, rows, answerType, questionType;
    for (std::int64_t i = 0; i < n; ++i) {
      for (const SceneQuestion& q : scenes[static_cast<std::size_t>(i)].questions) {
        questions.push_back(tokenizer_.encode(q.question, T, true, true));
        answers.push_back(tokenizer_.encode(q.multipleChoiceAnswer, T, false, true));
        qids.push_back(q.id);
        qimage.push_back(scenes[static_cast<std::size_t>(i)].id);
        rows.push_back(i);
        answerType.push_back(answerTypeIndex(q.answerType));
        questionType.push_back(static_cast<std::int64_t>(q.type));
      }
    }
    splits_["vqa_" + split] =
        std::make_shared<FieldDataset>(static_cast<std::int64_t>(qids.size()),
                                       std::map<std::string, torch::Tensor>{{"image_ids", int64s(qimage)},
                                                                            {"question_ids", int64s(qids)},
                                                                            {"questions", padded(questions, T)},
                                                                            {"answers", padded(answers, T)},
                                                                            {"answer_type", int64s(answerType)},
                                                                            {"question_type", int64s(questionType)}},
                                       imagesBySplit[si], int64s(rows));

    // LM corpus: captions, then "question: ... answer: ..." strings, scene by scene.
    auto& texts = lmTexts_[split];
    texts.clear();
    for (const Scene& s : scenes) {
      for (const auto& c : s.captions) texts.push_back(c);
      for (const SceneQuestion& q : s.questions)
        texts.push_back("question: " + q.question + " answer: " + q.multipleChoiceAnswer);
    }
    std::vector<std::vector<std::int64_t>> tokens;
    for (const auto& t : texts) tokens.push_back(tokenizer_.encode(t, T, true, true));
    splits_["lm_" + split] = std::make_shared<FieldDataset>(
        static_cast<std::int64_t>(tokens.size()), std::map<std::string, torch::Tensor>{{"tokens", padded(tokens, T)}});
  }

  // Calibration pairs: train scenes only, sampled without replacement by a seeded Fisher-Yates.
  {
    const auto& train = scenes_["train"];
    PL_CHECK(o.calib_size <= static_cast<std::int64_t>(train.size()),
             "calib_size={} exceeds the {} train scenes; lower calib_size or raise num_train", o.calib_size,
             train.size());
    std::mt19937_64 rng(mixSeed(static_cast<std::uint64_t>(o.seed), 0xCA11B2A7ull));
    std::vector<std::int64_t> order(train.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::int64_t>(i);
    std::vector<std::vector<std::int64_t>> prefix, target, full;
    std::vector<std::int64_t> ids, rows, captionIndex;
    for (std::int64_t k = 0; k < o.calib_size; ++k) {
      const auto j = static_cast<std::size_t>(k) + uniformBelow(rng, order.size() - static_cast<std::size_t>(k));
      std::swap(order[static_cast<std::size_t>(k)], order[j]);
      const Scene& s = train[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])];
      const auto c = static_cast<std::size_t>(uniformBelow(rng, s.captions.size()));
      const auto words = WordTokenizer::words(s.captions[c]);
      const std::size_t cut = 1 + uniformBelow(rng, std::max<std::size_t>(1, words.size() / 2));
      prefix.push_back(tokenizer_.encode(joinWords(words, 0, std::min(cut, words.size())), T, true, false));
      target.push_back(tokenizer_.encode(joinWords(words, std::min(cut, words.size()), words.size()), T, false, true));
      full.push_back(tokenizer_.encode(s.captions[c], T, true, true));
      ids.push_back(s.id);
      rows.push_back(order[static_cast<std::size_t>(k)]);
      captionIndex.push_back(static_cast<std::int64_t>(c));
    }
    splits_["calib"] =
        std::make_shared<FieldDataset>(o.calib_size,
                                       std::map<std::string, torch::Tensor>{{"image_ids", int64s(ids)},
                                                                            {"prefix_ids", padded(prefix, T)},
                                                                            {"target_ids", padded(target, T)},
                                                                            {"captions", padded(full, T)},
                                                                            {"caption_index", int64s(captionIndex)}},
                                       imagesBySplit[0], int64s(rows));
  }

  // Zero-shot: every test item in scene order (up to zeroshot_size), its cell centred on a blank canvas.
  {
    const auto& test = scenes_["test"];
    std::vector<std::int64_t> labels, ids;
    std::vector<std::vector<std::uint8_t>> canvases;
    for (const Scene& s : test) {
      const int cellPx = s.height / s.grid;
      const int y0 = (s.height - cellPx) / 2, x0 = (s.width - cellPx) / 2;
      for (std::size_t c = 0; c < s.cells.size(); ++c) {
        if (s.cells[c].empty()) continue;
        if (o.zeroshot_size >= 0 && static_cast<std::int64_t>(labels.size()) >= o.zeroshot_size) break;
        std::vector<std::uint8_t> canvas(static_cast<std::size_t>(s.height * s.width), 0);
        const int cy = static_cast<int>(c) / s.grid * cellPx, cx = static_cast<int>(c) % s.grid * cellPx;
        for (int y = 0; y < cellPx; ++y)
          for (int x = 0; x < cellPx; ++x)
            canvas[static_cast<std::size_t>((y0 + y) * s.width + x0 + x)] =
                s.pixels[static_cast<std::size_t>((cy + y) * s.width + cx + x)];
        canvases.push_back(std::move(canvas));
        labels.push_back(s.cells[c].label);
        ids.push_back(s.id);
      }
    }
    const int h = test.empty() ? 0 : test[0].height, w = test.empty() ? 0 : test[0].width;
    const auto n = static_cast<std::int64_t>(canvases.size());
    auto images = torch::zeros({n, 1, h, w}, torch::kUInt8);
    auto* dst = images.data_ptr<std::uint8_t>();
    for (std::size_t i = 0; i < canvases.size(); ++i)
      std::copy(canvases[i].begin(), canvases[i].end(), dst + i * static_cast<std::size_t>(h * w));
    splits_["zeroshot"] = std::make_shared<FieldDataset>(
        n, std::map<std::string, torch::Tensor>{{"labels", int64s(labels)}, {"image_ids", int64s(ids)}}, images,
        torch::arange(n, torch::kInt64));
  }

  const std::string derived = fmt::format("calib_size={};max_text_len={};zeroshot_size={};tokenizer={}", o.calib_size,
                                          o.max_text_len, o.zeroshot_size, sha256Hex(tokenizer_.toJson()));
  fingerprint_ = sha256Hex(generatorFingerprint_ + ";" + derived);
  prepared_ = true;
}

void FashionScenes::checkPrepared(const std::string& what) const {
  PL_CHECK(prepared_, "fashion_scenes: {} requested before prepare()", what);
}

std::shared_ptr<const data::Dataset> FashionScenes::split(const std::string& name) const {
  checkPrepared("split '" + name + "'");
  const auto it = splits_.find(name);
  PL_CHECK(it != splits_.end(), "fashion_scenes has no split '{}'{}; splits: {}", name, didYouMean(name, splits()),
           quotedList(splits()));
  return it->second;
}

std::vector<std::string> FashionScenes::splits() const {
  return {"calib", "lm_test",  "lm_train",  "lm_val",  "test",    "train",
          "val",   "vqa_test", "vqa_train", "vqa_val", "zeroshot"};
}

std::string FashionScenes::fingerprint() const {
  checkPrepared("fingerprint()");
  return fingerprint_;
}

const std::vector<Scene>& FashionScenes::scenes(const std::string& split) const {
  checkPrepared("scenes('" + split + "')");
  const auto it = scenes_.find(split);
  PL_CHECK(it != scenes_.end(), "fashion_scenes has no scene split '{}'{}; scene splits: {}", split,
           didYouMean(split, kSceneSplits), quotedList(kSceneSplits));
  return it->second;
}

std::vector<std::int64_t> FashionScenes::encodeText(const std::string& text, std::int64_t maxLen, bool addBos,
                                                    bool addEos) const {
  return tokenizer_.encode(text, maxLen, addBos, addEos);
}

std::string FashionScenes::decodeText(const std::vector<std::int64_t>& ids) const { return tokenizer_.decode(ids); }

bool FashionScenes::knowsAllWords(const std::string& text) const {
  for (const auto& word : WordTokenizer::words(text))
    if (tokenizer_.id(word) == WordTokenizer::kUnk) return false;
  return true;
}

std::vector<data::VqaQuestion> FashionScenes::vqaQuestions(const std::string& split) const {
  return sceneVqaQuestions(scenes(split));
}

data::CocoCaptions FashionScenes::captionReferences(const std::string& split) const {
  return sceneCocoCaptions(scenes(split));
}

const std::vector<std::string>& FashionScenes::lmTexts(const std::string& split) const {
  scenes(split);
  return lmTexts_.at(split);
}

}  // namespace prunelab::datasets
