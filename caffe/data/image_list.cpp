#include "caffe/data/image_list.hpp"

#include <charconv>
#include <utility>

#include "caffe/core/common.hpp"
#include "caffe/util/io.hpp"
#include "caffe/util/permutation.hpp"
#include "caffe/util/random.hpp"

namespace caffe {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Parses one non-blank line; false when it is not `path label`.
bool parse_entry(std::string_view line, ImageListEntry* entry) {
  while (!line.empty() && is_blank(line.back())) line.remove_suffix(1);
  while (!line.empty() && is_blank(line.front())) line.remove_prefix(1);
  size_t split = line.size();
  while (split > 0 && !is_blank(line[split - 1])) --split;
  const std::string_view label = line.substr(split);
  size_t path_end = split;
  while (path_end > 0 && is_blank(line[path_end - 1])) --path_end;
  if (path_end == 0) return false;
  const auto [end, error] =
      std::from_chars(label.data(), label.data() + label.size(), entry->label);
  if (error != std::errc() || end != label.data() + label.size()) return false;
  entry->path = std::string(line.substr(0, path_end));
  return true;
}

}  // namespace

std::vector<ImageListEntry> read_image_list(const std::string& list_file) {
  const std::string text = read_file(list_file);
  std::vector<ImageListEntry> entries;
  size_t start = 0;
  for (int line_number = 1; start < text.size(); ++line_number) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    ImageListEntry entry;
    entry.line = line_number;
    if (!parse_entry(line, &entry)) {
      fail("'", list_file, "' line ", line_number,
           ": expected 'path label' with an integer label, ", "got '", line, "'");
    }
    entries.push_back(std::move(entry));
  }
  if (entries.empty()) fail("image list '", list_file, "' has no entries");
  return entries;
}

std::string image_path(const std::string& root_folder, const ImageListEntry& entry) {
  return root_folder + entry.path;
}

Datum read_listed_image(const ImageListEntry& entry, const std::string& root_folder,
                        const ImageShaping& shaping, const std::string& list_file) {
  const std::string path = image_path(root_folder, entry);
  try {
    return image_to_datum(load_image(read_file(path), shaping, "image '" + path + "'"),
                          entry.label);
  } catch (const Error& error) {
    fail("'", list_file, "' line ", entry.line, ": ", error.what());
  }
}

ImageListOrder::ImageListOrder(uint64_t count, bool shuffle, uint64_t key)
    : count_(count), shuffle_(shuffle), key_(key) {
  if (count_ == 0) fail("an image list needs at least one entry");
}

uint64_t ImageListOrder::EntryAt(uint64_t position) {
  if (!shuffle_) return position % count_;
  const uint64_t epoch = position / count_;
  if (order_.empty() || epoch_ != epoch) {
    order_ = random_permutation(count_, hash_combine(key_, epoch));
    epoch_ = epoch;
  }
  return order_[position % count_];
}

ImageListBatchReader::ImageListBatchReader(std::vector<ImageListEntry> entries, Options options)
    : entries_(std::move(entries)),
      options_(std::move(options)),
      order_(entries_.size(), options_.shuffle, options_.shuffle_key) {
  if (options_.batch_size == 0) fail("batch_size must be positive");
  if (options_.datum_shape.size() != 3) fail("the datum shape must be channels, height, width");
}

void ImageListBatchReader::Read(uint64_t index, DatumBatch* batch) {
  const std::vector<int>& shape = options_.datum_shape;
  batch->datums.resize(options_.batch_size);
  const uint64_t first = index * options_.batch_size;
  for (size_t k = 0; k < options_.batch_size; ++k) {
    const uint64_t position = options_.skip + options_.shard.position(first + k);
    const ImageListEntry& entry = entries_[order_.EntryAt(position)];
    Datum& datum = batch->datums[k];
    datum = read_listed_image(entry, options_.root_folder, options_.shaping, options_.list_file);
    if (datum.channels() != shape[0] || datum.height() != shape[1] || datum.width() != shape[2]) {
      fail("'", options_.list_file, "' line ", entry.line, ": image '",
           image_path(options_.root_folder, entry), "' is ", datum.channels(), "x", datum.height(),
           "x", datum.width(), " (channels x height x width) but the first image is ", shape[0],
           "x", shape[1], "x", shape[2],
           "; set new_height and new_width to resize every image to one size");
    }
  }
}

}  // namespace caffe
