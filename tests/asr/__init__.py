"""Tests of the listening side (asr/)."""
