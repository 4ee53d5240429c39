"""Tests of speech synthesis (tts/)."""
