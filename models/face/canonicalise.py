"""Rewrite an ONNX file so that the same model always gives the same bytes.

tflite2onnx 0.4.1 emits graph initializers and value_info in an order that
depends on Python object hashes, so two runs of the same conversion differ
byte for byte although the graphs are identical. Sorting those two lists by
name (node order is already topological and stable) makes the output
reproducible, which the manifest's sha256 check relies on.

Usage: python canonicalise.py FILE.onnx   (rewritten in place)
"""
import sys

import onnx


def canonicalise(path: str) -> None:
    model = onnx.load(path)
    graph = model.graph
    for field in ("initializer", "value_info"):
        items = sorted(getattr(graph, field), key=lambda t: t.name)
        del getattr(graph, field)[:]
        getattr(graph, field).extend(items)
    onnx.checker.check_model(model)
    onnx.save(model, path)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        canonicalise(p)
