// An image list -> an LMDB of Datum records, the work behind tools/convert_imageset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

namespace caffe {

struct ImagesetOptions {
  std::string root_folder;  // prefixed to every listed path (plain concatenation)
  bool gray = false;        // decode to 1 channel; otherwise to 3 (BGR)
  bool shuffle = false;     // write the list in a random order drawn from shuffle_seed
  uint64_t shuffle_seed = 0;
  int resize_height = 0;  // both > 0: resize (bilinear) every image to this size
  int resize_width = 0;
  bool check_size = false;  // every image must have the first one's C x H x W
  bool encoded = false;     // store JPEG / PNG bytes instead of pixels
  std::string encode_type;  // "jpg" or "png"; empty: each file's own format.  Implies encoded.
  bool overwrite = false;   // replace an existing LMDB at the output path
};

struct ImagesetConversion {
  size_t written = 0;
  size_t skipped = 0;  // unreadable images, each reported to `warnings`
};

// Reads the list (`path label` lines; a malformed line is an error before anything is written),
// then writes one Datum per readable image under the key "%08d_<path>", the number being the
// entry's position in the (shuffled) list.  An image that cannot be read or decoded is skipped
// with a line on `warnings` naming its file and list line.  On an error (--check_size, no
// readable image at all, a write failure) the partial database is removed.
//
// Encoded records keep the file's bytes when nothing changes them (no resize, the file already
// has the requested channels and is in the requested format); otherwise the decoded, converted
// and resized image is re-encoded (JPEG quality 95 or PNG).
ImagesetConversion convert_imageset(const std::string& list_file, const std::string& db_path,
                                    const ImagesetOptions& options, std::ostream& warnings);

}  // namespace caffe
