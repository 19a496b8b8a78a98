"""Heartbeat Edge toolchain: MIT-BIH records -> beats -> CNN-4 -> int8 -> verified -> TFLite Micro C arrays."""
