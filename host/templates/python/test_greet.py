"""Unit tests of greet.py: `python3 -m unittest`."""

import unittest

import greet


class HelloTest(unittest.TestCase):
    def test_greets_by_name(self):
        self.assertEqual(greet.hello("world"), "Hello, world!")

    def test_greets_the_world_by_default(self):
        self.assertEqual(greet.hello(), "Hello, world!")


if __name__ == "__main__":
    unittest.main()
