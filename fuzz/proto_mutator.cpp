// The structure-aware prototxt mutator (fuzz/proto_mutator.hpp).
#include "fuzz/proto_mutator.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "caffe/core/layer_registry.hpp"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace caffe {
namespace fuzz {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// A field of one message, and for a repeated field the element (-1 for a singular field).
struct FieldRef {
  Message* message;
  const FieldDescriptor* field;
  int index;
};

class Mutation {
 public:
  Mutation(Message* root, unsigned seed) : root_(root), random_(seed) { Collect(root_, 0); }

  // One random change; false when there was nothing to change.
  bool Apply() {
    switch (Pick(4)) {
      case 0: return ChangeValue();
      case 1: return Remove();
      case 2: return Duplicate();
      default: return Add();
    }
  }

 private:
  static constexpr int kMaxDepth = 8;

  size_t Pick(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(random_); }

  void Collect(Message* message, int depth) {
    const Reflection* reflection = message->GetReflection();
    const auto* descriptor = message->GetDescriptor();
    for (int f = 0; f < descriptor->field_count(); ++f) {
      addable_.push_back({message, descriptor->field(f), -1});
    }
    std::vector<const FieldDescriptor*> fields;
    reflection->ListFields(*message, &fields);
    for (const FieldDescriptor* field : fields) {
      const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
      const int count = field->is_repeated() ? reflection->FieldSize(*message, field) : 1;
      for (int i = 0; i < count; ++i) {
        const int index = field->is_repeated() ? i : -1;
        set_.push_back({message, field, index});
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
          strings_.push_back(index < 0 ? reflection->GetString(*message, field)
                                       : reflection->GetRepeatedString(*message, field, i));
        }
        if (is_message && depth < kMaxDepth) {
          Collect(index < 0 ? reflection->MutableMessage(message, field)
                            : reflection->MutableRepeatedMessage(message, field, i),
                  depth + 1);
        }
      }
    }
  }

  bool ChangeValue() {
    std::vector<FieldRef> scalars;
    for (const FieldRef& ref : set_) {
      if (ref.field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) scalars.push_back(ref);
    }
    if (scalars.empty()) return false;
    SetValue(scalars[Pick(scalars.size())]);
    return true;
  }

  bool Remove() {
    if (set_.empty()) return false;
    const FieldRef ref = set_[Pick(set_.size())];
    const Reflection* reflection = ref.message->GetReflection();
    if (ref.index < 0) {
      reflection->ClearField(ref.message, ref.field);
    } else {
      const int last = reflection->FieldSize(*ref.message, ref.field) - 1;
      reflection->SwapElements(ref.message, ref.field, ref.index, last);
      reflection->RemoveLast(ref.message, ref.field);
    }
    return true;
  }

  bool Duplicate() {
    std::vector<FieldRef> repeated;
    for (const FieldRef& ref : set_) {
      if (ref.index >= 0) repeated.push_back(ref);
    }
    if (repeated.empty()) return false;
    const FieldRef ref = repeated[Pick(repeated.size())];
    const Reflection* reflection = ref.message->GetReflection();
    if (ref.field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      const Message& original = reflection->GetRepeatedMessage(*ref.message, ref.field, ref.index);
      std::unique_ptr<Message> copy(original.New());
      copy->CopyFrom(original);
      reflection->AddMessage(ref.message, ref.field)->CopyFrom(*copy);
    } else {
      AddScalar({ref.message, ref.field, -1});
      const int last = reflection->FieldSize(*ref.message, ref.field) - 1;
      reflection->SwapElements(ref.message, ref.field, ref.index, last);
    }
    return true;
  }

  bool Add() {
    if (addable_.empty()) return false;
    const FieldRef ref = addable_[Pick(addable_.size())];
    const Reflection* reflection = ref.message->GetReflection();
    if (ref.field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (ref.field->is_repeated()) {
        reflection->AddMessage(ref.message, ref.field);
      } else {
        reflection->MutableMessage(ref.message, ref.field);
      }
    } else if (ref.field->is_repeated()) {
      AddScalar(ref);
    } else {
      SetValue(ref);
    }
    return true;
  }

  int64_t Integer(int64_t current) {
    static constexpr int64_t kValues[] = {0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 65535, 1 << 20,
                                          INT_MAX, -1, -2, INT_MIN};
    switch (Pick(3)) {
      case 0: return current + static_cast<int64_t>(Pick(5)) - 2;
      case 1: return current * 2;
      default: return kValues[Pick(std::size(kValues))];
    }
  }

  double Real(double current) {
    static constexpr double kValues[] = {0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-30, 1e30, 1e-45,
                                         std::numeric_limits<double>::infinity(),
                                         -std::numeric_limits<double>::infinity(),
                                         std::numeric_limits<double>::quiet_NaN()};
    return Pick(3) == 0 ? current * -2.0 : kValues[Pick(std::size(kValues))];
  }

  std::string Text() {
    if (Pick(3) == 0) {
      const std::vector<std::string> types = LayerRegistry::Types();
      if (!types.empty()) return types[Pick(types.size())];
    }
    if (!strings_.empty() && Pick(4) != 0) return strings_[Pick(strings_.size())];
    return Pick(2) == 0 ? "" : "x";
  }

  // Sets a singular field, or repeated element ref.index, to a new value of its type.
  void SetValue(const FieldRef& ref) {
    const Reflection* reflection = ref.message->GetReflection();
    Message* m = ref.message;
    const FieldDescriptor* f = ref.field;
    const int i = ref.index;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        const auto value = static_cast<int32_t>(
            Integer(i < 0 ? reflection->GetInt32(*m, f) : reflection->GetRepeatedInt32(*m, f, i)));
        i < 0 ? reflection->SetInt32(m, f, value) : reflection->SetRepeatedInt32(m, f, i, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        const int64_t value =
            Integer(i < 0 ? reflection->GetInt64(*m, f) : reflection->GetRepeatedInt64(*m, f, i));
        i < 0 ? reflection->SetInt64(m, f, value) : reflection->SetRepeatedInt64(m, f, i, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        const auto value = static_cast<uint32_t>(Integer(
            i < 0 ? reflection->GetUInt32(*m, f) : reflection->GetRepeatedUInt32(*m, f, i)));
        i < 0 ? reflection->SetUInt32(m, f, value) : reflection->SetRepeatedUInt32(m, f, i, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        const auto value = static_cast<uint64_t>(Integer(static_cast<int64_t>(
            i < 0 ? reflection->GetUInt64(*m, f) : reflection->GetRepeatedUInt64(*m, f, i))));
        i < 0 ? reflection->SetUInt64(m, f, value) : reflection->SetRepeatedUInt64(m, f, i, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        const auto value = static_cast<float>(
            Real(i < 0 ? reflection->GetFloat(*m, f) : reflection->GetRepeatedFloat(*m, f, i)));
        i < 0 ? reflection->SetFloat(m, f, value) : reflection->SetRepeatedFloat(m, f, i, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        const double value =
            Real(i < 0 ? reflection->GetDouble(*m, f) : reflection->GetRepeatedDouble(*m, f, i));
        i < 0 ? reflection->SetDouble(m, f, value) : reflection->SetRepeatedDouble(m, f, i, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        const bool value =
            !(i < 0 ? reflection->GetBool(*m, f) : reflection->GetRepeatedBool(*m, f, i));
        i < 0 ? reflection->SetBool(m, f, value) : reflection->SetRepeatedBool(m, f, i, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* value = f->enum_type()->value(static_cast<int>(Pick(f->enum_type()->value_count())));
        i < 0 ? reflection->SetEnum(m, f, value) : reflection->SetRepeatedEnum(m, f, i, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        const std::string value = Text();
        i < 0 ? reflection->SetString(m, f, value) : reflection->SetRepeatedString(m, f, i, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;
    }
  }

  // Appends a default element to a repeated scalar field and gives it a new value.
  void AddScalar(const FieldRef& ref) {
    const Reflection* reflection = ref.message->GetReflection();
    Message* m = ref.message;
    const FieldDescriptor* f = ref.field;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: reflection->AddInt32(m, f, 0); break;
      case FieldDescriptor::CPPTYPE_INT64: reflection->AddInt64(m, f, 0); break;
      case FieldDescriptor::CPPTYPE_UINT32: reflection->AddUInt32(m, f, 0); break;
      case FieldDescriptor::CPPTYPE_UINT64: reflection->AddUInt64(m, f, 0); break;
      case FieldDescriptor::CPPTYPE_FLOAT: reflection->AddFloat(m, f, 0); break;
      case FieldDescriptor::CPPTYPE_DOUBLE: reflection->AddDouble(m, f, 0); break;
      case FieldDescriptor::CPPTYPE_BOOL: reflection->AddBool(m, f, false); break;
      case FieldDescriptor::CPPTYPE_ENUM: reflection->AddEnum(m, f, f->enum_type()->value(0)); break;
      case FieldDescriptor::CPPTYPE_STRING: reflection->AddString(m, f, ""); break;
      case FieldDescriptor::CPPTYPE_MESSAGE: return;
    }
    SetValue({m, f, reflection->FieldSize(*m, f) - 1});
  }

  Message* root_;
  std::minstd_rand random_;
  std::vector<FieldRef> set_;      // every field (element) that is set
  std::vector<FieldRef> addable_;  // every field of every set message (index -1)
  std::vector<std::string> strings_;
};

}  // namespace

size_t mutate_prototxt(const Message& prototype, uint8_t* data, size_t size, size_t max_size,
                       unsigned seed) {
  std::minstd_rand random(seed);
  std::unique_ptr<Message> message(prototype.New());
  const std::string text(reinterpret_cast<const char*>(data), size);
  google::protobuf::TextFormat::Parser parser;
  parser.AllowPartialMessage(true);
  // A quarter of the time, and for text that does not parse, the byte-level mutations.
  if (random() % 4 == 0 || !parser.ParseFromString(text, message.get())) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  const int changes = 1 + static_cast<int>(random() % 3);
  for (int c = 0; c < changes; ++c) Mutation(message.get(), random()).Apply();
  std::string mutated;
  if (!google::protobuf::TextFormat::PrintToString(*message, &mutated) || mutated.size() > max_size) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  std::memcpy(data, mutated.data(), mutated.size());
  return mutated.size();
}

}  // namespace fuzz
}  // namespace caffe
