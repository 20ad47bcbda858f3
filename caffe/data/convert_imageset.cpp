#include "caffe/data/convert_imageset.hpp"

#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "caffe/core/common.hpp"
#include "caffe/data/db_lmdb.hpp"
#include "caffe/data/image_datum.hpp"
#include "caffe/data/image_list.hpp"
#include "caffe/util/io.hpp"
#include "caffe/util/permutation.hpp"
#include "caffe/util/random.hpp"

namespace caffe {
namespace {

constexpr uint64_t kShuffleSalt = 0x496D616765536574ull;  // "ImageSet"

std::string record_key(size_t index, const std::string& path) {
  char number[32];
  std::snprintf(number, sizeof(number), "%08zu_", index);
  return number + path;
}

std::string shape_text(const Image& image) {
  return std::to_string(image.channels) + "x" + std::to_string(image.height) + "x" +
         std::to_string(image.width);
}

bool same_shape(const Image& a, const Image& b) {
  return a.channels == b.channels && a.height == b.height && a.width == b.width;
}

// One list entry turned into a record value, or the reason it cannot be.
class EntryConverter {
 public:
  explicit EntryConverter(const ImagesetOptions& options)
      : encoded_(options.encoded || !options.encode_type.empty()) {
    shaping_.channels = options.gray ? ImageChannels::GRAY : ImageChannels::COLOR;
    shaping_.height = options.resize_height;
    shaping_.width = options.resize_width;
    if (!options.encode_type.empty()) encode_format_ = image_format_from_name(options.encode_type);
  }

  // The serialized Datum and the decoded image (for --check_size).  A file that cannot be read
  // or decoded is a caffe::Error.
  std::pair<std::string, Image> Convert(const std::string& path, int label) const {
    const std::string bytes = read_file(path);
    Image native = decode_image(bytes, ImageChannels::NATIVE, "image '" + path + "'");
    const int native_channels = native.channels;
    Image image = shape_image(std::move(native), shaping_);
    Datum datum;
    if (!encoded_) {
      datum = image_to_datum(image, label);
    } else {
      const ImageFormat file_format = *sniff_image_format(bytes);
      const ImageFormat format = encode_format_.value_or(file_format);
      const bool unchanged = format == file_format && native_channels == image.channels &&
                             (shaping_.height <= 0 || shaping_.width <= 0);
      datum.set_data(unchanged ? bytes : encode_image(image, format));
      datum.set_encoded(true);
      datum.set_label(label);
    }
    return {datum.SerializeAsString(), std::move(image)};
  }

 private:
  const bool encoded_;
  ImageShaping shaping_;
  std::optional<ImageFormat> encode_format_;
};

// Removes the database unless dismissed: a failed conversion leaves nothing behind.
class PartialDatabase {
 public:
  explicit PartialDatabase(std::string path) : path_(std::move(path)) {}
  ~PartialDatabase() {
    if (!path_.empty()) db::remove_database(path_);
  }
  void Keep() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

ImagesetConversion convert_imageset(const std::string& list_file, const std::string& db_path,
                                    const ImagesetOptions& options, std::ostream& warnings) {
  if ((options.resize_height > 0) != (options.resize_width > 0)) {
    fail("give both resize_height and resize_width (got ", options.resize_height, " and ",
         options.resize_width, ") or neither");
  }
  const EntryConverter converter(options);
  std::vector<ImageListEntry> entries = read_image_list(list_file);
  if (options.shuffle) {
    const std::vector<uint64_t> order =
        random_permutation(entries.size(), hash_combine(options.shuffle_seed, kShuffleSalt));
    std::vector<ImageListEntry> shuffled;
    for (uint64_t i : order) shuffled.push_back(std::move(entries[i]));
    entries = std::move(shuffled);
  }
  db::prepare_new_database(db_path, options.overwrite);

  PartialDatabase partial(db_path);
  ImagesetConversion done;
  {
    db::LmdbEnvironment environment(db_path, db::LmdbEnvironment::Access::READ_WRITE);
    db::LmdbWriter writer(environment);
    std::optional<Image> first;  // the first image written, without its pixels
    std::string first_path;
    for (size_t index = 0; index < entries.size(); ++index) {
      const ImageListEntry& entry = entries[index];
      const std::string path = image_path(options.root_folder, entry);
      std::pair<std::string, Image> converted;
      try {
        converted = converter.Convert(path, entry.label);
      } catch (const Error& error) {
        warnings << "warning: skipping '" << path << "' ('" << list_file << "' line " << entry.line
                 << "): " << error.what() << "\n";
        ++done.skipped;
        continue;
      }
      const Image& image = converted.second;
      if (!first) {
        first = Image{image.height, image.width, image.channels, {}};
        first_path = path;
      } else if (options.check_size && !same_shape(image, *first)) {
        fail("'", list_file, "' line ", entry.line, ": image '", path, "' is ", shape_text(image),
             " (channels x height x width) but '", first_path, "' is ", shape_text(*first),
             " (--check_size)");
      }
      writer.put(record_key(index, entry.path), std::move(converted.first));
      ++done.written;
    }
    writer.commit();
  }
  if (done.written == 0) {
    fail("none of the ", entries.size(), " images listed in '", list_file, "' could be read");
  }
  partial.Keep();
  return done;
}

}  // namespace caffe
