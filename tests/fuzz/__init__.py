"""Tests of the differential fuzzer."""
