// Reading and writing protobuf messages: prototxt (text) with file:line:column errors, binary
// files with size and parse checks, and atomic writes (temp file + rename).
#pragma once

#include <string>

#include <google/protobuf/message.h>

#include "proto/caffe.pb.h"

namespace caffe {

// Parses a prototxt file into `message`.  Errors name the file, line and column.
void read_proto_from_text_file(const std::string& path, google::protobuf::Message* message);
// Parses prototxt text; `origin` names it in error messages.
void read_proto_from_text(const std::string& text, const std::string& origin,
                          google::protobuf::Message* message);
void read_proto_from_binary_file(const std::string& path, google::protobuf::Message* message);
// The same for the bytes of the file `path` (named in errors), already read.
void parse_binary_proto(const std::string& bytes, const std::string& path,
                        google::protobuf::Message* message);
// Binary or text by extension-independent content check is not possible in general: these write
// the requested format atomically (temp file in the same folder, then rename).
void write_proto_to_binary_file(const google::protobuf::Message& message, const std::string& path);
void write_proto_to_text_file(const google::protobuf::Message& message, const std::string& path);
// Writes bytes atomically: into `.<name>.tmp.XXXXXX` beside `path`, fsync, rename over `path`,
// fsync the folder.  After a crash at any point `path` holds its old contents or all of the new
// ones (a killed process may leave its temporary file behind).  Errors ("cannot write '<path>':
// No space left on device") remove the temporary file and leave `path` as it was.
void write_file_atomically(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

// Reads a net prototxt; old formats (V0, V1, net-level inputs, ...) are upgraded with a warning
// (caffe/core/net_upgrade.hpp).
NetParameter read_net_param(const std::string& path);
// Reads a solver prototxt as written (load_solver_param also upgrades and resolves paths).
SolverParameter read_solver_param(const std::string& path);

}  // namespace caffe
