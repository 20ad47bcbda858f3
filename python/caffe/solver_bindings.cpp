// Solvers: caffe.Solver, one subclass per update rule (SGDSolver, NesterovSolver, AdaGradSolver,
// RMSPropSolver, AdamSolver: BVLC's names), caffe.get_solver and Solver.from_param.
//
// Ownership: Python holds a PySolver (the C++ Solver plus the Python callbacks it calls) through
// a shared_ptr.  solver.net and solver.test_nets are caffe.Net objects whose shared_ptr aliases
// that PySolver: they keep the solver alive, so a Net taken from a solver stays valid however
// long it is kept, and it is a full caffe.Net (layers, layer_dict, share_with, ...).
//
// GIL: step / solve / test / snapshot / restore release the GIL while C++ runs; Python
// callbacks and Python layers take it back.  An exception raised by a callback leaves
// Solver::Step at once (so the iteration it happened in applies no update and solver.iter does
// not advance) and reaches the caller of step() as the same Python exception.  Step also checks
// for Ctrl-C at the start of every iteration.
#include <glog/logging.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <utility>

#include "bindings.hpp"
#include "caffe/solvers/solver.hpp"

namespace caffe::python {
namespace {

using Path = std::filesystem::path;

// A Solver as Python holds it.  Polymorphic, so pybind11 hands out the most derived class
// (get_solver on an Adam file returns an AdamSolver).
class PySolver {
 public:
  explicit PySolver(std::unique_ptr<Solver> solver) : solver_(std::move(solver)) {
    solver_->add_callback(raise_pending_signals, nullptr);
  }
  virtual ~PySolver() = default;
  PySolver(const PySolver&) = delete;
  PySolver& operator=(const PySolver&) = delete;

  Solver& solver() { return *solver_; }

  void add_callback(const py::object& on_start, const py::object& on_gradients_ready) {
    require_idle("add_callback()");
    for (const py::object& function : {on_start, on_gradients_ready}) {
      if (!function.is_none() && !PyCallable_Check(function.ptr())) {
        throw py::type_error("add_callback() needs callables or None, got " +
                             py::repr(function).cast<std::string>());
      }
    }
    solver_->add_callback(hook(on_start), hook(on_gradients_ready));
  }

  // step / solve / restore / add_callback raise while a step is running (called from a
  // callback, or from another thread): the Solver is not reentrant.
  void require_idle(const char* what) const {
    if (busy_) {
      throw py::value_error(std::string(what) +
                            " cannot be called while the solver is running a step (from a "
                            "callback or another thread)");
    }
  }

  // Marks the solver busy for the lifetime of the guard (taken with the GIL held).
  class BusyGuard {
   public:
    BusyGuard(PySolver& owner, const char* what) : owner_(owner) {
      owner_.require_idle(what);
      owner_.busy_ = true;
    }
    ~BusyGuard() { owner_.busy_ = false; }
    BusyGuard(const BusyGuard&) = delete;
    BusyGuard& operator=(const BusyGuard&) = delete;

   private:
    PySolver& owner_;
  };

  // Garbage-collector support: callbacks often refer to the solver (a closure over `solver`),
  // a cycle through C++ that Python can only break if it sees the callbacks.
  int traverse(visitproc visit, void* arg) const {
    for (const py::object& callback : callbacks_) Py_VISIT(callback.ptr());
    return 0;
  }
  void clear_callbacks() {
    for (py::object& callback : callbacks_) callback = py::none();
  }

 private:
  void call_python(size_t index) {
    py::gil_scoped_acquire gil;
    const py::object callback = callbacks_[index];  // a copy: the list may change meanwhile
    if (!callback.is_none()) callback();  // an exception propagates out of Solver::Step
  }

  // The Solver callback that calls `function` (none for None).
  Solver::Callback hook(const py::object& function) {
    if (function.is_none()) return nullptr;
    callbacks_.push_back(function);
    return [this, index = callbacks_.size() - 1] { call_python(index); };
  }

  // Runs Python's signal handlers, so Ctrl-C (KeyboardInterrupt) stops step() between
  // iterations even when no Python code runs during training.
  static void raise_pending_signals() {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }

  std::unique_ptr<Solver> solver_;
  std::vector<py::object> callbacks_;
  bool busy_ = false;
};

// ---- the update rules with a Python class of their own ----

struct Rule {
  const char* python_class;
  const char* type;  // as SolverRegistry knows it
};

constexpr Rule kRules[] = {
    {"SGDSolver", "SGD"},         {"NesterovSolver", "Nesterov"}, {"AdaGradSolver", "AdaGrad"},
    {"RMSPropSolver", "RMSProp"}, {"AdaDeltaSolver", "AdaDelta"}, {"AdamSolver", "Adam"},
};

template <size_t R>
class RuleSolver : public PySolver {
 public:
  using PySolver::PySolver;
};

using Wrapper = std::shared_ptr<PySolver> (*)(std::unique_ptr<Solver>);

// Solver type -> the function wrapping such a solver in its Python class.
std::map<std::string, Wrapper>& wrappers() {
  static std::map<std::string, Wrapper> instance;
  return instance;
}

std::shared_ptr<PySolver> wrap(std::unique_ptr<Solver> solver) {
  const auto found = wrappers().find(solver->type());
  if (found == wrappers().end()) return std::make_shared<PySolver>(std::move(solver));
  return found->second(std::move(solver));
}

std::shared_ptr<PySolver> create(const SolverParameter& param) {
  std::unique_ptr<Solver> solver;
  {
    py::gil_scoped_release release;  // building the nets may run Python layers
    solver = Solver::Create(param);
  }
  return wrap(std::move(solver));
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// The update rule a class forces, replacing the message's own type.
void force_type(SolverParameter& param, const char* type, const std::string& origin) {
  if (param.has_type() && lowercase(param.type()) != lowercase(type)) {
    LOG(WARNING) << origin << " says type: \"" << param.type() << "\", but a " << type
                 << " solver was asked for; training with " << type;
  }
  param.set_type(type);
}

SolverParameter load_file(const Path& path) {
  py::gil_scoped_release release;
  return load_solver_param(path.string());
}

// A caffe_pb2.SolverParameter from Python, serialized there and parsed here.
SolverParameter param_from_python(const py::object& message) {
  const py::object message_class =
      py::module_::import("caffe.proto.caffe_pb2").attr("SolverParameter");
  if (!py::isinstance(message, message_class)) {
    throw py::type_error(std::string("from_param() needs a caffe_pb2.SolverParameter, got ") +
                         Py_TYPE(message.ptr())->tp_name);
  }
  SolverParameter param;
  if (!param.ParseFromString(message.attr("SerializeToString")().cast<std::string>())) {
    fail("from_param(): the SolverParameter could not be parsed");
  }
  return param;
}

py::object param_to_python(const SolverParameter& param) {
  std::string bytes;
  param.SerializeToString(&bytes);
  return py::module_::import("caffe.proto.caffe_pb2")
      .attr("SolverParameter")
      .attr("FromString")(py::bytes(bytes));
}

py::dict result_dict(const TestResult& result) {
  py::dict values;
  for (const auto& [name, value] : result) values[py::str(name)] = value;
  return values;
}

// A Net of the solver that shares ownership of the whole solver.
std::shared_ptr<Net> owned_by(const std::shared_ptr<PySolver>& owner, Net& net) {
  return std::shared_ptr<Net>(owner, &net);
}

// The type setup of every solver class: garbage-collector support and no use before __init__.
void setup_solver_type(PyHeapTypeObject* heap_type) {
  refuse_uninitialised_access(heap_type);
  PyTypeObject* type = &heap_type->ht_type;
  type->tp_flags |= Py_TPFLAGS_HAVE_GC;
  type->tp_traverse = [](PyObject* self, visitproc visit, void* arg) {
    Py_VISIT(Py_TYPE(self));  // heap types are referenced by their instances
    if (!py::detail::is_holder_constructed(self)) return 0;
    return py::cast<const PySolver&>(py::handle(self)).traverse(visit, arg);
  };
  type->tp_clear = [](PyObject* self) {
    if (py::detail::is_holder_constructed(self)) {
      py::cast<PySolver&>(py::handle(self)).clear_callbacks();
    }
    return 0;
  };
}

// A solver of rule R whatever `type` the parameters name.
template <size_t R>
std::shared_ptr<RuleSolver<R>> create_as_rule(SolverParameter param, const std::string& origin) {
  force_type(param, kRules[R].type, origin);
  auto solver = std::dynamic_pointer_cast<RuleSolver<R>>(create(param));
  if (!solver) fail("the solver registry did not create a ", kRules[R].type, " solver");
  return solver;
}

template <size_t R>
void bind_rule(py::module_& m) {
  using Class = RuleSolver<R>;
  wrappers()[kRules[R].type] = [](std::unique_ptr<Solver> solver) -> std::shared_ptr<PySolver> {
    return std::make_shared<Class>(std::move(solver));
  };
  const std::string doc = std::string("The ") + kRules[R].type +
                          " solver (it replaces any other `type` the parameters name).";
  py::class_<Class, PySolver, std::shared_ptr<Class>>(
      m, kRules[R].python_class, py::custom_type_setup(&setup_solver_type),
      doc.c_str())
      .def(py::init([](const Path& solver_file) {
             return create_as_rule<R>(load_file(solver_file),
                                      "solver '" + solver_file.string() + "'");
           }),
           py::arg("solver_file"),
           "Reads a solver prototxt (relative net paths may be relative to its folder).")
      .def_static(
          "from_param",
          [](const py::object& param) {
            return create_as_rule<R>(param_from_python(param), "from_param()");
          },
          py::arg("param"),
          "A solver from a caffe_pb2.SolverParameter (paths in it are relative to the current "
          "directory).");
}

template <size_t... R>
void bind_rules(py::module_& m, std::index_sequence<R...>) {
  (bind_rule<R>(m), ...);
}

void step(PySolver& self, int iters) {
  const PySolver::BusyGuard busy(self, "step()");
  py::gil_scoped_release release;
  self.solver().Step(iters);
}

void solve(PySolver& self, const std::optional<Path>& resume_file) {
  const PySolver::BusyGuard busy(self, "solve()");
  py::gil_scoped_release release;
  self.solver().Solve(resume_file ? resume_file->string() : "");
}

void restore(PySolver& self, const Path& solverstate) {
  const PySolver::BusyGuard busy(self, "restore()");
  py::gil_scoped_release release;
  self.solver().Restore(solverstate.string());
}

void apply_update(PySolver& self) {
  const PySolver::BusyGuard busy(self, "apply_update()");
  py::gil_scoped_release release;
  self.solver().ApplyUpdate();
}

py::tuple snapshot(PySolver& self) {
  SnapshotFiles files;
  {
    py::gil_scoped_release release;
    files = self.solver().Snapshot();
  }
  return py::make_tuple(files.caffemodel, files.solverstate);
}

py::dict test(PySolver& self, int test_net_id) {
  TestResult result;
  {
    py::gil_scoped_release release;
    result = self.solver().Test(test_net_id);
  }
  return result_dict(result);
}

py::list test_all(PySolver& self) {
  std::vector<TestResult> results;
  {
    py::gil_scoped_release release;
    results = self.solver().TestAll();
  }
  py::list dicts;
  for (const TestResult& result : results) dicts.append(result_dict(result));
  return dicts;
}

std::vector<std::shared_ptr<Net>> test_nets(const std::shared_ptr<PySolver>& self) {
  std::vector<std::shared_ptr<Net>> nets;
  for (const auto& net : self->solver().test_nets()) nets.push_back(owned_by(self, *net));
  return nets;
}

void bind_solver(py::module_& m) {
  py::class_<PySolver, std::shared_ptr<PySolver>>(
      m, "Solver", py::custom_type_setup(&setup_solver_type),
      "Trains a Net from a SolverParameter.  Create one with caffe.get_solver(file), "
      "Solver.from_param(param) or a rule's class (caffe.SGDSolver(file), ...).")
      .def_static(
          "from_param", [](const py::object& param) { return create(param_from_python(param)); },
          py::arg("param"),
          "A solver of param.type from a caffe_pb2.SolverParameter (paths in it are relative to "
          "the current directory).")
      .def_property_readonly(
          "net",
          [](const std::shared_ptr<PySolver>& self) {
            return owned_by(self, self->solver().net());
          },
          "The train Net (shares memory with the solver: writes to its blobs change training).")
      .def_property_readonly("test_nets", &test_nets,
                             "The test Nets (they share the train net's weights).")
      .def_property_readonly(
          "iter", [](PySolver& self) { return self.solver().iter(); }, "Iterations done so far.")
      .def_property_readonly(
          "lr", [](PySolver& self) { return self.solver().learning_rate(); },
          "The learning rate of the next update (lr_policy at iter).")
      .def_property_readonly(
          "smoothed_loss", [](PySolver& self) { return self.solver().smoothed_loss(); },
          "Mean train loss over the last average_loss iterations.")
      .def_property_readonly(
          "type", [](PySolver& self) { return std::string(self.solver().type()); },
          "The update rule: 'SGD', 'Nesterov', 'AdaGrad', 'RMSProp', 'Adam'.")
      .def_property_readonly(
          "param", [](PySolver& self) { return param_to_python(self.solver().param()); },
          "A copy of the solver's settings (caffe_pb2.SolverParameter).")
      .def("step", &step, py::arg("iters"),
           "Run `iters` training iterations (testing and snapshotting when due).")
      .def("solve", &solve, py::arg("resume_file") = py::none(),
           "Train to max_iter, after restoring resume_file (a .solverstate) when given.")
      .def("snapshot", &snapshot,
           "Write <prefix>_iter_N.caffemodel and .solverstate; returns their paths.")
      .def("restore", &restore, py::arg("solverstate"),
           "Resume from a .solverstate: iteration, weights and update history.")
      .def("apply_update", &apply_update,
           "Apply the update rule once to the current parameter gradients (at the learning "
           "rate of the current iteration; the iteration does not advance).")
      .def(
          "share_weights",
          [](PySolver& self, Net& net) { net.ShareTrainedLayersWith(self.solver().net()); },
          py::arg("net"),
          "Make `net` use the train net's weights (shared memory) for the layers with the "
          "same names.")
      .def("test", &test, py::arg("test_net_id") = 0,
           "Run test net `test_net_id` for its test_iter batches; returns {output: mean}.")
      .def("test_all", &test_all, "Run every test net; returns one {output: mean} per net.")
      .def("add_callback", &PySolver::add_callback, py::arg("on_start"),
           py::arg("on_gradients_ready"),
           "Call on_start() at the start of every iteration and on_gradients_ready() after the "
           "gradients are computed, before the update (either may be None).  An exception "
           "raised by one stops step() before that iteration's update and propagates.")
      .def(
          "request_stop", [](PySolver& self) { self.solver().request_stop(); },
          "Stop the running step()/solve() at the end of the current iteration.")
      .def("__repr__", [](py::handle self) {
        Solver& solver = initialised<PySolver>(self, "__repr__").solver();
        return std::string("<caffe.") + solver.type() + "Solver net '" + solver.net().name() +
               "', iter " + std::to_string(solver.iter()) + ">";
      });

  bind_rules(m, std::make_index_sequence<std::size(kRules)>());

  m.def(
      "get_solver",
      [](const Path& solver_file) { return create(load_file(solver_file)); },
      py::arg("solver_file"), "A solver of the `type` given in the solver prototxt (SGD by default).");
}

}  // namespace

CAFFE_PYTHON_BINDINGS(kBindSolver, bind_solver);

}  // namespace caffe::python
