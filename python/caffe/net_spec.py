"""Write Caffe nets from Python, with the NetSpec API of BVLC's pycaffe.

    from caffe import layers as L, params as P
    n = caffe.NetSpec()
    n.data, n.label = L.Data(source="train_lmdb", backend=P.Data.LMDB, batch_size=64, ntop=2,
                             transform_param=dict(scale=1 / 255))
    n.ip1 = L.InnerProduct(n.data, num_output=500, weight_filler=dict(type="xavier"))
    n.relu1 = L.ReLU(n.ip1, in_place=True)
    n.loss = L.SoftmaxWithLoss(n.ip1, n.label)
    print(n.to_proto())

A layer call ``L.<Type>(*bottoms, **kwargs)`` returns its top (a tuple of tops when ``ntop > 1``,
the layer itself when ``ntop == 0``).  Keyword arguments are routed with the schema's
descriptors: a LayerParameter field (``param``, ``include``, ``loss_weight``, ``propagate_down``,
``transform_param``, ...) is set directly; any other name goes into the layer's parameter
message, ``<Type>Parameter`` (InnerProduct -> inner_product_param), or else the one ``*_param``
message that has such a field and whose name occurs in the type (SoftmaxWithLoss: ``axis`` ->
softmax_param, ``ignore_label`` -> loss_param; Deconvolution -> convolution_param), or else the
only ``*_param`` message with such a field.  Dicts fill sub-messages, lists fill repeated fields,
enum fields take numbers (``P.Pooling.MAX``) or names ("MAX").  Special keywords: ``ntop``
(number of tops, default 1), ``in_place`` (tops reuse the bottoms' blobs), ``name`` (layer name).

Blobs and layers are named after the NetSpec attributes they are assigned to; the rest get
automatic names (``InnerProduct1``, ...).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Union

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from .proto import caffe_pb2

_LAYER: Descriptor = caffe_pb2.LayerParameter.DESCRIPTOR
# Fields of LayerParameter that the layer call itself determines.
_STRUCTURAL_FIELDS = frozenset({"type", "bottom", "top"})
_PARAMETER_SUFFIX = "Parameter"
# The layer-specific parameter messages: transform_param, loss_param, inner_product_param, ...
_PARAM_FIELDS: list[FieldDescriptor] = [
    field for field in _LAYER.fields
    if field.name.endswith("_param") and field.message_type is not None]


class Top:
    """One output blob of a layer call; pass it to other layer calls as a bottom."""

    def __init__(self, function: Function, index: int) -> None:
        self.fn = function
        self.index = index

    def to_proto(self) -> caffe_pb2.NetParameter:
        """The net that computes this top (automatic names throughout)."""
        return to_proto(self)

    def __repr__(self) -> str:
        return f"<Top {self.index} of {self.fn.type_name}>"


class Function:
    """One layer call: its type, bottoms, parameters and the tops it produces."""

    def __init__(self, type_name: str, inputs: tuple[Any, ...], params: dict[str, Any]) -> None:
        for position, bottom in enumerate(inputs):
            if not isinstance(bottom, Top):
                # BVLC's wording, which scripts and tests match.
                raise TypeError(f"{type_name} input {position} is not a Top "
                                f"(type is {type(bottom)})")
        self.type_name = type_name
        self.inputs: tuple[Top, ...] = inputs
        params = dict(params)
        self.ntop: int = params.pop("ntop", 1)
        if not isinstance(self.ntop, int) or self.ntop < 0:
            raise ValueError(f"L.{type_name}: ntop must be a non-negative int, got {self.ntop!r}")
        self.in_place: bool = params.pop("in_place", False)
        self.name: str | None = params.pop("name", None)
        if self.in_place and len(inputs) != self.ntop:
            raise ValueError(f"L.{type_name}: in_place needs as many bottoms as tops "
                             f"({len(inputs)} bottom(s), ntop={self.ntop})")
        for key in params:
            if key in _STRUCTURAL_FIELDS:
                raise ValueError(f"L.{type_name}: '{key}' is set by the layer call itself")
        self.params = params
        self.tops: tuple[Top, ...] = tuple(Top(self, index) for index in range(self.ntop))

    def __repr__(self) -> str:
        return f"<Function {self.type_name} with {self.ntop} top(s)>"


LayerOutput = Union[Top, tuple[Top, ...], Function]


class Layers:
    """``layers.<Type>(*bottoms, **kwargs)`` describes a layer of that type (see module doc)."""

    def __getattr__(self, type_name: str) -> Callable[..., LayerOutput]:
        if type_name.startswith("_"):
            raise AttributeError(type_name)

        def layer(*bottoms: Top, **kwargs: Any) -> LayerOutput:
            function = Function(type_name, bottoms, kwargs)
            if function.ntop == 0:
                return function
            if function.ntop == 1:
                return function.tops[0]
            return function.tops

        layer.__name__ = type_name
        return layer


class Parameters:
    """``params.<Type>`` is the ``<Type>Parameter`` message class; its enum values are
    attributes: ``params.Pooling.MAX``, ``params.Data.LMDB``."""

    def __getattr__(self, type_name: str) -> type[Message]:
        if type_name.startswith("_"):
            raise AttributeError(type_name)
        message_class = getattr(caffe_pb2, type_name + _PARAMETER_SUFFIX, None)
        if message_class is None:
            known = sorted(name[:-len(_PARAMETER_SUFFIX)]
                           for name in caffe_pb2.DESCRIPTOR.message_types_by_name
                           if name.endswith(_PARAMETER_SUFFIX))
            raise AttributeError(f"caffe_pb2 has no {type_name}{_PARAMETER_SUFFIX}; "
                                 f"known: {', '.join(known)}")
        return message_class


layers = Layers()
params = Parameters()


class NetSpec:
    """Collects named tops; ``to_proto()`` turns them (and everything they depend on) into a
    NetParameter whose blobs and layers carry the attribute names."""

    def __init__(self) -> None:
        object.__setattr__(self, "tops", OrderedDict())

    def __setattr__(self, name: str, value: Top | Function) -> None:
        if not isinstance(value, (Top, Function)):
            raise TypeError(f"NetSpec.{name} must be a layer output, got {type(value).__name__}")
        self.tops[name] = value

    def __getattr__(self, name: str) -> Top | Function:
        try:
            return self.tops[name]
        except KeyError:
            raise AttributeError(f"NetSpec has no top named '{name}'") from None

    def __setitem__(self, name: str, value: Top | Function) -> None:
        self.__setattr__(name, value)

    def __getitem__(self, name: str) -> Top | Function:
        return self.__getattr__(name)

    def to_proto(self) -> caffe_pb2.NetParameter:
        names = {value: name for name, value in self.tops.items()}
        return _build_net(list(self.tops.values()), names)


def to_proto(*tops: Top) -> caffe_pb2.NetParameter:
    """The net computing `tops`, with automatic names."""
    return _build_net(list(tops), {})


# ---- building the NetParameter ----

def _functions_in_order(roots: list[Top | Function]) -> list[Function]:
    """Every function the roots depend on, each after the functions producing its bottoms
    (depth-first, iterative so very deep nets do not hit the recursion limit)."""
    ordered: list[Function] = []
    done: set[int] = set()
    for root in roots:
        stack: list[tuple[Function, bool]] = [(root.fn if isinstance(root, Top) else root, False)]
        while stack:
            function, inputs_done = stack.pop()
            if id(function) in done:
                continue
            if inputs_done:
                done.add(id(function))
                ordered.append(function)
                continue
            stack.append((function, True))
            for bottom in reversed(function.inputs):
                if id(bottom.fn) not in done:
                    stack.append((bottom.fn, False))
    return ordered


class _Namer:
    """Blob and layer names: the NetSpec names, else '<Type><n>' not clashing with them."""

    def __init__(self, names: dict[Top | Function, str]) -> None:
        self.names = names
        self.used = set(names.values())
        self.counts: dict[str, int] = {}

    def name_of(self, key: Top | Function, type_name: str) -> str:
        if key not in self.names:
            count = self.counts.get(type_name, 0)
            while True:
                count += 1
                candidate = f"{type_name}{count}"
                if candidate not in self.used:
                    break
            self.counts[type_name] = count
            self.used.add(candidate)
            self.names[key] = candidate
        return self.names[key]


def _build_net(roots: list[Top | Function],
               names: dict[Top | Function, str]) -> caffe_pb2.NetParameter:
    namer = _Namer(dict(names))
    blob_names: dict[Top, str] = {}
    net = caffe_pb2.NetParameter()
    for function in _functions_in_order(roots):
        layer = net.layer.add()
        bottoms = [blob_names[bottom] for bottom in function.inputs]
        if function.in_place:
            tops = bottoms
        else:
            tops = [namer.name_of(top, function.type_name) for top in function.tops]
        blob_names.update(zip(function.tops, tops))
        head: Top | Function = function.tops[0] if function.tops else function
        layer.name = function.name or namer.name_of(head, function.type_name)
        layer.type = function.type_name
        layer.bottom.extend(bottoms)
        layer.top.extend(tops)
        for key, value in function.params.items():
            _set_layer_argument(layer, function.type_name, key, value)
    return net


def _message_base(field: FieldDescriptor) -> str:
    name = field.message_type.name
    return name[:-len(_PARAMETER_SUFFIX)] if name.endswith(_PARAMETER_SUFFIX) else name


def param_field_for(type_name: str, key: str) -> str:
    """The LayerParameter field (``inner_product_param``, ...) holding `key` for `type_name`."""
    candidates = [field for field in _PARAM_FIELDS if key in field.message_type.fields_by_name]
    own = [field for field in candidates if _message_base(field) == type_name]
    related = [field for field in candidates if _message_base(field).lower() in type_name.lower()]
    for choice in (own, related, candidates):
        if len(choice) == 1:
            return choice[0].name
    if not candidates:
        raise ValueError(f"L.{type_name}: no parameter message has a field '{key}' "
                         f"(and LayerParameter has none either)")
    listed = ", ".join(field.name for field in candidates)
    raise ValueError(f"L.{type_name}: '{key}' could belong to {listed}; pass it inside one, "
                     f"e.g. {candidates[0].name}=dict({key}=...)")


def _set_layer_argument(layer: caffe_pb2.LayerParameter, type_name: str, key: str,
                        value: Any) -> None:
    target: Message = layer
    if key not in _LAYER.fields_by_name:
        target = getattr(layer, param_field_for(type_name, key))
    try:
        assign_field(target, key, value)
    except (TypeError, ValueError) as error:
        raise type(error)(f"L.{type_name}({key}={value!r}): {error}") from error


def assign_field(message: Message, name: str, value: Any) -> None:
    """Sets field `name` of `message` from a Python value: a dict (or message) for a
    sub-message, a sequence (or single value) for a repeated field, an enum name or number."""
    field = message.DESCRIPTOR.fields_by_name.get(name)
    if field is None:
        raise ValueError(f"{message.DESCRIPTOR.name} has no field '{name}'")
    if field.label == FieldDescriptor.LABEL_REPEATED:
        container = getattr(message, name)
        for item in _as_sequence(value):
            if field.message_type is not None:
                _fill_message(container.add(), item)
            else:
                container.append(_scalar(field, item))
    elif field.message_type is not None:
        _fill_message(getattr(message, name), value)
    else:
        setattr(message, name, _scalar(field, value))


def _as_sequence(value: Any) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping, Message)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def _fill_message(message: Message, value: Any) -> None:
    if isinstance(value, Message):
        message.CopyFrom(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            assign_field(message, key, item)
    else:
        raise TypeError(f"{message.DESCRIPTOR.name} must be given as a dict or message, "
                        f"got {type(value).__name__}")


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar -> Python number
    if field.enum_type is not None and isinstance(value, str):
        number = field.enum_type.values_by_name.get(value)
        if number is None:
            known = ", ".join(field.enum_type.values_by_name)
            raise ValueError(f"'{value}' is not a {field.enum_type.name} (one of {known})")
        return number.number
    return value
