#include "caffe/parallel/rank_agreement.hpp"

#include <cstdint>
#include <cstring>

namespace caffe {
namespace {

// A rank's outcome: "E" + its error, or "D" + its description as length-prefixed strings.
void put_string(const std::string& text, std::vector<uint8_t>* out) {
  const auto size = static_cast<uint32_t>(text.size());
  const auto* bytes = reinterpret_cast<const uint8_t*>(&size);
  out->insert(out->end(), bytes, bytes + sizeof(size));
  out->insert(out->end(), text.begin(), text.end());
}

std::vector<uint8_t> encode_outcome(const std::string& error, const SetupDescription& description) {
  std::vector<uint8_t> out;
  if (!error.empty()) {
    out.push_back('E');
    put_string(error, &out);
    return out;
  }
  out.push_back('D');
  for (const auto& [what, value] : description) {
    put_string(what, &out);
    put_string(value, &out);
  }
  return out;
}

struct Outcome {
  std::string error;
  SetupDescription description;
};

// The bytes come from our own encode_outcome on another rank of the same build.
Outcome decode_outcome(const uint8_t* data, size_t size) {
  Outcome outcome;
  size_t offset = 1;
  const auto next_string = [&] {
    uint32_t length = 0;
    std::memcpy(&length, data + offset, sizeof(length));
    offset += sizeof(length);
    std::string text(reinterpret_cast<const char*>(data + offset), length);
    offset += length;
    return text;
  };
  if (data[0] == 'E') {
    outcome.error = next_string();
    return outcome;
  }
  while (offset < size) {
    std::string what = next_string();
    outcome.description.emplace_back(std::move(what), next_string());
  }
  return outcome;
}

[[noreturn]] void report_failures(const std::vector<Outcome>& outcomes) {
  int first = -1, others = 0;
  for (size_t r = 0; r < outcomes.size(); ++r) {
    if (outcomes[r].error.empty()) continue;
    if (first < 0) {
      first = static_cast<int>(r);
    } else {
      ++others;
    }
  }
  std::string prefix;
  if (others + 1 < static_cast<int>(outcomes.size())) {  // (a failure on every rank needs no name)
    prefix = "rank " + std::to_string(first);
    if (others > 0) {
      prefix += " (and " + std::to_string(others) + " other rank" + (others > 1 ? "s" : "") + ")";
    }
    prefix += ": ";
  }
  throw AgreedError(prefix + outcomes[first].error);
}

constexpr const char* kSameSettings =
    "; every rank must train the same net with the same data-parallel settings";

// Throws when rank `rank`'s description differs from rank 0's, naming the first difference.
void compare_with_root(const SetupDescription& root, const SetupDescription& other, int rank) {
  const std::string on_rank = " on rank " + std::to_string(rank);
  for (size_t i = 0; i < root.size() && i < other.size(); ++i) {
    const auto& [what, value] = root[i];
    if (other[i].first != what) {
      throw AgreedError("ranks differ: rank 0 has " + what + " where rank " + std::to_string(rank) +
                        " has " + other[i].first + kSameSettings);
    }
    if (other[i].second != value) {
      throw AgreedError("ranks differ: " + what + " is '" + value + "' on rank 0 but '" +
                        other[i].second + "'" + on_rank + kSameSettings);
    }
  }
  if (root.size() > other.size()) {
    throw AgreedError("ranks differ: rank 0 has " + root[other.size()].first + ", which rank " +
                      std::to_string(rank) + " lacks" + kSameSettings);
  }
  if (other.size() > root.size()) {
    throw AgreedError("ranks differ: rank " + std::to_string(rank) + " has " +
                      other[root.size()].first + ", which rank 0 lacks" + kSameSettings);
  }
}

}  // namespace

void agree_on_setup(const MpiContext& mpi, const std::string& error,
                    const SetupDescription& description) {
  const std::vector<uint8_t> mine = encode_outcome(error, description);
  const Gathered gathered = mpi.AllGather(mine.data(), mine.size());
  std::vector<Outcome> outcomes;
  bool failed = false;
  for (int r = 0; r < mpi.size(); ++r) {
    outcomes.push_back(decode_outcome(gathered.data(r), gathered.size(r)));
    failed = failed || !outcomes.back().error.empty();
  }
  if (failed) report_failures(outcomes);
  for (int r = 1; r < mpi.size(); ++r) {
    compare_with_root(outcomes[0].description, outcomes[r].description, r);
  }
}

}  // namespace caffe
