"""Build loralab/assets/pytasks.jsonl, the small Python task set bundled for the demo.

Every task here was written for loralab (none is taken from HumanEval, MBPP or another
benchmark): an instruction that names the exact function and signature, what to return and
how edge cases behave; a short reference solution using only the standard library; and 3-6
tests, each a single-line `assert` that runs on its own after the solution.

    .venv/bin/python scripts/build_pytasks.py     # rewrites the JSONL, byte-identical on re-run

Before writing, every reference solution is run against each of its tests in a fresh
namespace, and a stub returning None must fail at least one test; the build stops otherwise.
tests/test_pytasks_assets.py repeats these checks on the committed file, in a subprocess.

Order: tasks are written below grouped by topic, easiest first, and emitted round-robin over
topics, so any prefix of the file (a quick demo on the first 20) spans many topics.
"""

from __future__ import annotations

import ast
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "loralab" / "assets" / "pytasks.jsonl"

# Tests that expect a ValueError stay one-line asserts: assertRaises(exc, fn, *args) returns
# None when fn raises exc and raises AssertionError when it does not.
RAISES = "assert __import__('unittest').TestCase().assertRaises(ValueError, {call}) is None"

_SOURCES: list[dict] = []


def task(topic: str, instruction: str, solution: str, tests: str) -> None:
    """Record one task; `tests` holds one assert per line (`raises: fn, arg` lines expand)."""
    lines = [line.strip() for line in textwrap.dedent(tests).strip().splitlines() if line.strip()]
    _SOURCES.append({
        "topic": topic,
        "instruction": " ".join(line.strip() for line in instruction.strip().splitlines()),
        "solution": textwrap.dedent(solution).strip() + "\n",
        "tests": [RAISES.format(call=line[len("raises:"):].strip()) if line.startswith("raises:") else line
                  for line in lines],
    })


def entry_point(solution: str) -> str:
    """The entry point is the last top-level function the solution defines (helpers come first)."""
    defs = [node.name for node in ast.parse(solution).body if isinstance(node, ast.FunctionDef)]
    return defs[-1]


# ---------------------------------------------------------------------------------------------
# strings
# ---------------------------------------------------------------------------------------------

task("strings", r"""
    Write a Python function `count_vowels(s: str) -> int` that returns how many vowels
    (a, e, i, o, u, in either case) the string `s` contains. The letter y is not a vowel.
""", r'''
    def count_vowels(s: str) -> int:
        return sum(1 for ch in s.lower() if ch in "aeiou")
''', r"""
    assert count_vowels('hello') == 2
    assert count_vowels('') == 0
    assert count_vowels('AEIOU xyz') == 5
    assert count_vowels('rhythm') == 0
""")

task("strings", r"""
    Write a Python function `reverse_words(s: str) -> str` that returns the words of `s` in
    reverse order. Words are separated by any amount of whitespace; the result joins them with
    single spaces and has no leading or trailing spaces. An empty string gives ''.
""", r'''
    def reverse_words(s: str) -> str:
        return " ".join(reversed(s.split()))
''', r"""
    assert reverse_words('hello world') == 'world hello'
    assert reverse_words('  one   two three ') == 'three two one'
    assert reverse_words('') == ''
    assert reverse_words('solo') == 'solo'
""")

task("strings", r"""
    Write a Python function `is_palindrome(s: str) -> bool` that returns True if `s` reads the
    same forwards and backwards when you ignore letter case and every character that is not a
    letter or digit, and False otherwise. The empty string is a palindrome.
""", r'''
    def is_palindrome(s: str) -> bool:
        kept = [ch.lower() for ch in s if ch.isalnum()]
        return kept == kept[::-1]
''', r"""
    assert is_palindrome('A man, a plan, a canal: Panama') is True
    assert is_palindrome('hello') is False
    assert is_palindrome('') is True
    assert is_palindrome('No lemon, no melon') is True
    assert is_palindrome('ab1ba2') is False
""")

task("strings", r"""
    Write a Python function `capitalize_words(s: str) -> str` that splits `s` on single space
    characters, makes the first character of every piece uppercase and the rest lowercase, and
    joins the pieces back with single spaces (so runs of spaces are kept as they were).
""", r'''
    def capitalize_words(s: str) -> str:
        return " ".join(w[:1].upper() + w[1:].lower() for w in s.split(" "))
''', r"""
    assert capitalize_words('hello world') == 'Hello World'
    assert capitalize_words('pYTHON is FUN') == 'Python Is Fun'
    assert capitalize_words('a  b') == 'A  B'
    assert capitalize_words('') == ''
""")

task("strings", r"""
    Write a Python function `is_anagram(a: str, b: str) -> bool` that returns True if `a` and
    `b` contain exactly the same letters the same number of times, ignoring letter case and
    spaces, and False otherwise. Two empty strings are anagrams.
""", r'''
    def is_anagram(a: str, b: str) -> bool:
        def key(s: str) -> list[str]:
            return sorted(s.replace(" ", "").lower())

        return key(a) == key(b)
''', r"""
    assert is_anagram('listen', 'silent') is True
    assert is_anagram('Dormitory', 'dirty room') is True
    assert is_anagram('abc', 'abd') is False
    assert is_anagram('', '') is True
    assert is_anagram('aab', 'abb') is False
""")

task("strings", r"""
    Write a Python function `compress_runs(s: str) -> str` that run-length encodes `s`: every
    maximal run of one repeated character becomes that character followed by the run length in
    decimal, so 'aaabcc' becomes 'a3b1c2'. An empty string gives ''.
""", r'''
    def compress_runs(s: str) -> str:
        parts = []
        i = 0
        while i < len(s):
            j = i
            while j < len(s) and s[j] == s[i]:
                j += 1
            parts.append(f"{s[i]}{j - i}")
            i = j
        return "".join(parts)
''', r"""
    assert compress_runs('aaabcc') == 'a3b1c2'
    assert compress_runs('') == ''
    assert compress_runs('x') == 'x1'
    assert compress_runs('aaaaaaaaaaaa') == 'a12'
    assert compress_runs('abab') == 'a1b1a1b1'
""")

task("strings", r"""
    Write a Python function `longest_common_prefix(words: list[str]) -> str` that returns the
    longest string that every word in `words` starts with. Return '' for an empty list or when
    the words share no prefix.
""", r'''
    def longest_common_prefix(words: list[str]) -> str:
        if not words:
            return ""
        prefix = words[0]
        for word in words[1:]:
            while not word.startswith(prefix):
                prefix = prefix[:-1]
        return prefix
''', r"""
    assert longest_common_prefix(['flower', 'flow', 'flight']) == 'fl'
    assert longest_common_prefix(['dog', 'racecar', 'car']) == ''
    assert longest_common_prefix([]) == ''
    assert longest_common_prefix(['same']) == 'same'
    assert longest_common_prefix(['ab', 'abc', 'abcd']) == 'ab'
""")

task("strings", r"""
    Write a Python function `first_unique_char(s: str) -> int` that returns the index of the
    first character of `s` that occurs exactly once in `s`, or -1 if there is none.
""", r'''
    from collections import Counter


    def first_unique_char(s: str) -> int:
        counts = Counter(s)
        for i, ch in enumerate(s):
            if counts[ch] == 1:
                return i
        return -1
''', r"""
    assert first_unique_char('swiss') == 1
    assert first_unique_char('aabb') == -1
    assert first_unique_char('') == -1
    assert first_unique_char('z') == 0
    assert first_unique_char('abcab') == 2
""")

task("strings", r"""
    Write a Python function `count_occurrences(text: str, sub: str) -> int` that returns how
    many times `sub` occurs in `text`, counting overlapping occurrences (so 'aa' occurs 3 times
    in 'aaaa'). If `sub` is empty, return 0.
""", r'''
    def count_occurrences(text: str, sub: str) -> int:
        if not sub:
            return 0
        return sum(1 for i in range(len(text) - len(sub) + 1) if text[i:i + len(sub)] == sub)
''', r"""
    assert count_occurrences('aaaa', 'aa') == 3
    assert count_occurrences('abcabc', 'abc') == 2
    assert count_occurrences('abc', '') == 0
    assert count_occurrences('abc', 'd') == 0
    assert count_occurrences('ab', 'abc') == 0
""")

task("strings", r"""
    Write a Python function `caesar_shift(s: str, k: int) -> str` that shifts every ASCII letter
    of `s` forward by `k` places in the alphabet, wrapping from z to a and keeping its case;
    all other characters are unchanged. `k` may be negative or larger than 26.
""", r'''
    def caesar_shift(s: str, k: int) -> str:
        out = []
        for ch in s:
            if "a" <= ch <= "z":
                out.append(chr((ord(ch) - ord("a") + k) % 26 + ord("a")))
            elif "A" <= ch <= "Z":
                out.append(chr((ord(ch) - ord("A") + k) % 26 + ord("A")))
            else:
                out.append(ch)
        return "".join(out)
''', r"""
    assert caesar_shift('abc', 1) == 'bcd'
    assert caesar_shift('xyz', 3) == 'abc'
    assert caesar_shift('Hello, World!', 13) == 'Uryyb, Jbeyq!'
    assert caesar_shift('abc', -1) == 'zab'
    assert caesar_shift('Zz', 52) == 'Zz'
""")

# ---------------------------------------------------------------------------------------------
# lists
# ---------------------------------------------------------------------------------------------

task("lists", r"""
    Write a Python function `sum_of_squares(nums: list[int]) -> int` that returns the sum of the
    squares of the numbers in `nums`. An empty list gives 0.
""", r'''
    def sum_of_squares(nums: list[int]) -> int:
        return sum(x * x for x in nums)
''', r"""
    assert sum_of_squares([1, 2, 3]) == 14
    assert sum_of_squares([]) == 0
    assert sum_of_squares([-2]) == 4
    assert sum_of_squares([0, 0, 5]) == 25
""")

task("lists", r"""
    Write a Python function `list_product(nums: list[int]) -> int` that returns the product of
    all numbers in `nums`. The product of an empty list is 1.
""", r'''
    def list_product(nums: list[int]) -> int:
        result = 1
        for x in nums:
            result *= x
        return result
''', r"""
    assert list_product([1, 2, 3, 4]) == 24
    assert list_product([]) == 1
    assert list_product([5, 0, 2]) == 0
    assert list_product([-2, 3]) == -6
""")

task("lists", r"""
    Write a Python function `running_total(nums: list[int]) -> list[int]` that returns a new
    list whose i-th item is the sum of nums[0] through nums[i]. An empty list gives [].
""", r'''
    def running_total(nums: list[int]) -> list[int]:
        out = []
        total = 0
        for x in nums:
            total += x
            out.append(total)
        return out
''', r"""
    assert running_total([1, 2, 3]) == [1, 3, 6]
    assert running_total([]) == []
    assert running_total([5, -5, 5]) == [5, 0, 5]
    assert running_total([7]) == [7]
""")

task("lists", r"""
    Write a Python function `move_zeros(nums: list[int]) -> list[int]` that returns a new list
    with every 0 moved to the end while the other numbers keep their relative order.
""", r'''
    def move_zeros(nums: list[int]) -> list[int]:
        return [x for x in nums if x != 0] + [0] * nums.count(0)
''', r"""
    assert move_zeros([0, 1, 0, 3, 12]) == [1, 3, 12, 0, 0]
    assert move_zeros([]) == []
    assert move_zeros([0, 0]) == [0, 0]
    assert move_zeros([4, 5]) == [4, 5]
""")

task("lists", r"""
    Write a Python function `remove_duplicates(items: list) -> list` that returns a new list
    holding the first occurrence of each (hashable) item of `items`, in their original order.
""", r'''
    def remove_duplicates(items: list) -> list:
        seen = set()
        out = []
        for item in items:
            if item not in seen:
                seen.add(item)
                out.append(item)
        return out
''', r"""
    assert remove_duplicates([3, 1, 3, 2, 1]) == [3, 1, 2]
    assert remove_duplicates([]) == []
    assert remove_duplicates(['a', 'A', 'a']) == ['a', 'A']
    assert remove_duplicates([1, 2, 3]) == [1, 2, 3]
""")

task("lists", r"""
    Write a Python function `count_rises(nums: list[int]) -> int` that returns how many
    positions i > 0 have nums[i] strictly greater than nums[i - 1].
""", r'''
    def count_rises(nums: list[int]) -> int:
        return sum(1 for prev, cur in zip(nums, nums[1:]) if cur > prev)
''', r"""
    assert count_rises([1, 2, 2, 3, 1]) == 2
    assert count_rises([]) == 0
    assert count_rises([5]) == 0
    assert count_rises([1, 2, 3, 4]) == 3
""")

task("lists", r"""
    Write a Python function `chunk_list(items: list, size: int) -> list[list]` that splits
    `items` into consecutive chunks of `size` items (size >= 1); the last chunk may be shorter.
    An empty list gives [].
""", r'''
    def chunk_list(items: list, size: int) -> list[list]:
        return [items[i:i + size] for i in range(0, len(items), size)]
''', r"""
    assert chunk_list([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunk_list([], 3) == []
    assert chunk_list([1, 2], 5) == [[1, 2]]
    assert chunk_list(['a', 'b', 'c'], 1) == [['a'], ['b'], ['c']]
""")

task("lists", r"""
    Write a Python function `interleave(a: list, b: list) -> list` that returns a new list taking
    items alternately from `a` and `b`, starting with `a`; once one list runs out, the rest of
    the other follows in order.
""", r'''
    def interleave(a: list, b: list) -> list:
        out = []
        for i in range(max(len(a), len(b))):
            if i < len(a):
                out.append(a[i])
            if i < len(b):
                out.append(b[i])
        return out
''', r"""
    assert interleave([1, 2, 3], ['a', 'b']) == [1, 'a', 2, 'b', 3]
    assert interleave([], [1, 2]) == [1, 2]
    assert interleave([1], []) == [1]
    assert interleave([], []) == []
""")

task("lists", r"""
    Write a Python function `rotate_right(items: list, k: int) -> list` that returns a new list
    rotated to the right by `k` places (k >= 0), so the last k items move to the front. `k` may
    be larger than the length of the list. An empty list gives [].
""", r'''
    def rotate_right(items: list, k: int) -> list:
        if not items:
            return []
        k %= len(items)
        return items[-k:] + items[:-k] if k else list(items)
''', r"""
    assert rotate_right([1, 2, 3, 4, 5], 2) == [4, 5, 1, 2, 3]
    assert rotate_right([1, 2, 3], 0) == [1, 2, 3]
    assert rotate_right([1, 2, 3], 4) == [3, 1, 2]
    assert rotate_right([], 3) == []
""")

task("lists", r"""
    Write a Python function `second_largest(nums: list[int]) -> int | None` that returns the
    second largest distinct value in `nums`, or None if there are fewer than two distinct values.
""", r'''
    def second_largest(nums: list[int]) -> int | None:
        distinct = sorted(set(nums), reverse=True)
        return distinct[1] if len(distinct) >= 2 else None
''', r"""
    assert second_largest([3, 1, 4, 1, 5]) == 4
    assert second_largest([2, 2, 2]) is None
    assert second_largest([7]) is None
    assert second_largest([-1, -2]) == -2
    assert second_largest([5, 5, 4]) == 4
""")

# ---------------------------------------------------------------------------------------------
# dicts and counting
# ---------------------------------------------------------------------------------------------

task("dicts", r"""
    Write a Python function `word_frequencies(text: str) -> dict[str, int]` that lowercases
    `text`, splits it on whitespace and returns a dict mapping each word to how many times it
    occurs. An empty text gives {}.
""", r'''
    def word_frequencies(text: str) -> dict[str, int]:
        counts = {}
        for word in text.lower().split():
            counts[word] = counts.get(word, 0) + 1
        return counts
''', r"""
    assert word_frequencies('the cat the') == {'the': 2, 'cat': 1}
    assert word_frequencies('') == {}
    assert word_frequencies('A a A') == {'a': 3}
    assert word_frequencies('one two\nthree') == {'one': 1, 'two': 1, 'three': 1}
""")

task("dicts", r"""
    Write a Python function `invert_dict(d: dict) -> dict` that returns a new dict mapping each
    value of `d` to its key. When several keys share a value, the key that comes last in `d`'s
    order wins.
""", r'''
    def invert_dict(d: dict) -> dict:
        return {value: key for key, value in d.items()}
''', r"""
    assert invert_dict({'a': 1, 'b': 2}) == {1: 'a', 2: 'b'}
    assert invert_dict({}) == {}
    assert invert_dict({'a': 1, 'b': 1}) == {1: 'b'}
    assert invert_dict({1: 'x'}) == {'x': 1}
""")

task("dicts", r"""
    Write a Python function `most_frequent_char(s: str) -> str` that returns the character that
    occurs most often in `s`. If several characters tie, return the one that appears first in
    `s`. An empty string gives ''.
""", r'''
    def most_frequent_char(s: str) -> str:
        counts = {}
        for ch in s:
            counts[ch] = counts.get(ch, 0) + 1
        # dicts keep first-appearance order and max() keeps the first maximum: ties go to the earliest
        return max(counts, key=counts.get) if s else ""
''', r"""
    assert most_frequent_char('abracadabra') == 'a'
    assert most_frequent_char('bbaa') == 'b'
    assert most_frequent_char('') == ''
    assert most_frequent_char('xyz') == 'x'
    assert most_frequent_char('abcc') == 'c'
""")

task("dicts", r"""
    Write a Python function `group_by_length(words: list[str]) -> dict[int, list[str]]` that
    returns a dict mapping each word length to the list of words of that length, keeping the
    words in their original order. An empty list gives {}.
""", r'''
    def group_by_length(words: list[str]) -> dict[int, list[str]]:
        groups = {}
        for word in words:
            groups.setdefault(len(word), []).append(word)
        return groups
''', r"""
    assert group_by_length(['a', 'bb', 'c', 'dd', 'eee']) == {1: ['a', 'c'], 2: ['bb', 'dd'], 3: ['eee']}
    assert group_by_length([]) == {}
    assert group_by_length(['', 'x']) == {0: [''], 1: ['x']}
    assert group_by_length(['same', 'same']) == {4: ['same', 'same']}
""")

task("dicts", r"""
    Write a Python function `merge_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]`
    that returns a new dict holding every key of `a` or `b`, with the values of keys present in
    both added together. The input dicts must not be modified.
""", r'''
    def merge_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        merged = dict(a)
        for key, value in b.items():
            merged[key] = merged.get(key, 0) + value
        return merged
''', r"""
    assert merge_counts({'x': 1, 'y': 2}, {'y': 3, 'z': 4}) == {'x': 1, 'y': 5, 'z': 4}
    assert merge_counts({}, {}) == {}
    assert merge_counts({'a': 1}, {}) == {'a': 1}
    assert merge_counts({'a': 1}, {'a': -1}) == {'a': 0}
    assert (lambda a: merge_counts(a, {'k': 1}) == {'k': 3} and a == {'k': 2})({'k': 2})
""")

task("dicts", r"""
    Write a Python function `count_by_first_letter(words: list[str]) -> dict[str, int]` that
    returns a dict mapping each lowercase first letter to how many words start with it (in
    either case). Empty strings are skipped.
""", r'''
    def count_by_first_letter(words: list[str]) -> dict[str, int]:
        counts = {}
        for word in words:
            if word:
                key = word[0].lower()
                counts[key] = counts.get(key, 0) + 1
        return counts
''', r"""
    assert count_by_first_letter(['Apple', 'avocado', 'banana', '']) == {'a': 2, 'b': 1}
    assert count_by_first_letter([]) == {}
    assert count_by_first_letter(['', '']) == {}
    assert count_by_first_letter(['Zed']) == {'z': 1}
""")

task("dicts", r"""
    Write a Python function `keys_with_max_value(d: dict[str, int]) -> list[str]` that returns
    the keys of `d` whose value equals the largest value in `d`, sorted alphabetically. An empty
    dict gives [].
""", r'''
    def keys_with_max_value(d: dict[str, int]) -> list[str]:
        if not d:
            return []
        top = max(d.values())
        return sorted(key for key, value in d.items() if value == top)
''', r"""
    assert keys_with_max_value({'a': 3, 'c': 5, 'b': 5}) == ['b', 'c']
    assert keys_with_max_value({}) == []
    assert keys_with_max_value({'z': -1}) == ['z']
    assert keys_with_max_value({'x': 0, 'y': -2}) == ['x']
""")

task("dicts", r"""
    Write a Python function `nested_get(d: dict, path: str, default=None)` that follows the
    dot-separated keys in `path` through nested dicts and returns the value found, for example
    nested_get({'a': {'b': 1}}, 'a.b') returns 1. If a key is missing, or a value on the way is
    not a dict, return `default`.
""", r'''
    def nested_get(d: dict, path: str, default=None):
        current = d
        for key in path.split("."):
            if not isinstance(current, dict) or key not in current:
                return default
            current = current[key]
        return current
''', r"""
    assert nested_get({'a': {'b': {'c': 1}}}, 'a.b.c') == 1
    assert nested_get({'a': {'b': {'c': 1}}}, 'a.x', 0) == 0
    assert nested_get({'a': 1}, 'a.b') is None
    assert nested_get({'a': {'b': 2}}, 'a') == {'b': 2}
    assert nested_get({}, 'k', 'none') == 'none'
""")

task("dicts", r"""
    Write a Python function `top_k_words(text: str, k: int) -> list[str]` that lowercases
    `text`, splits it on whitespace and returns the `k` most frequent words, most frequent
    first; words with equal counts are ordered alphabetically. If there are fewer than k
    distinct words, return all of them.
""", r'''
    from collections import Counter


    def top_k_words(text: str, k: int) -> list[str]:
        counts = Counter(text.lower().split())
        ranked = sorted(counts, key=lambda word: (-counts[word], word))
        return ranked[:k]
''', r"""
    assert top_k_words('b a b c a b', 2) == ['b', 'a']
    assert top_k_words('x y z', 2) == ['x', 'y']
    assert top_k_words('', 3) == []
    assert top_k_words('Go go GO stop', 1) == ['go']
    assert top_k_words('q p', 5) == ['p', 'q']
""")

task("dicts", r"""
    Write a Python function `two_sum_indices(nums: list[int], target: int) -> tuple[int, int] | None`
    that returns a pair of indices (i, j) with i < j and nums[i] + nums[j] == target. Scan j from
    left to right and return the first j that has a partner, with the smallest such i. Return
    None if no pair exists.
""", r'''
    def two_sum_indices(nums: list[int], target: int) -> tuple[int, int] | None:
        first_index = {}
        for j, x in enumerate(nums):
            if target - x in first_index:
                return (first_index[target - x], j)
            first_index.setdefault(x, j)
        return None
''', r"""
    assert two_sum_indices([2, 7, 11, 15], 9) == (0, 1)
    assert two_sum_indices([3, 3], 6) == (0, 1)
    assert two_sum_indices([1, 2, 3], 7) is None
    assert two_sum_indices([5, 1, 2, 3], 4) == (1, 3)
    assert two_sum_indices([1, 1, 1], 2) == (0, 1)
""")

# ---------------------------------------------------------------------------------------------
# math and number theory
# ---------------------------------------------------------------------------------------------

task("math", r"""
    Write a Python function `digit_sum(n: int) -> int` that returns the sum of the decimal
    digits of `n`, ignoring its sign.
""", r'''
    def digit_sum(n: int) -> int:
        return sum(int(d) for d in str(abs(n)))
''', r"""
    assert digit_sum(123) == 6
    assert digit_sum(0) == 0
    assert digit_sum(-45) == 9
    assert digit_sum(9999) == 36
""")

task("math", r"""
    Write a Python function `is_prime(n: int) -> bool` that returns True if `n` is a prime
    number and False otherwise. Numbers below 2 (including negatives) are not prime.
""", r'''
    def is_prime(n: int) -> bool:
        if n < 2:
            return False
        i = 2
        while i * i <= n:
            if n % i == 0:
                return False
            i += 1
        return True
''', r"""
    assert is_prime(2) is True
    assert is_prime(1) is False
    assert is_prime(97) is True
    assert is_prime(91) is False
    assert is_prime(-7) is False
""")

task("math", r"""
    Write a Python function `lcm(a: int, b: int) -> int` that returns the least common multiple
    of two non-negative integers. If either number is 0, return 0.
""", r'''
    from math import gcd


    def lcm(a: int, b: int) -> int:
        if a == 0 or b == 0:
            return 0
        return a * b // gcd(a, b)
''', r"""
    assert lcm(4, 6) == 12
    assert lcm(0, 5) == 0
    assert lcm(7, 3) == 21
    assert lcm(5, 5) == 5
""")

task("math", r"""
    Write a Python function `gcd_list(nums: list[int]) -> int` that returns the greatest common
    divisor of all the numbers in `nums`, as a non-negative number (signs are ignored). The gcd
    of an empty list is 0, and 0 does not change the gcd of the other numbers.
""", r'''
    from functools import reduce
    from math import gcd


    def gcd_list(nums: list[int]) -> int:
        return reduce(gcd, nums, 0)
''', r"""
    assert gcd_list([12, 18, 24]) == 6
    assert gcd_list([]) == 0
    assert gcd_list([7]) == 7
    assert gcd_list([-4, 6]) == 2
    assert gcd_list([0, 5]) == 5
""")

task("math", r"""
    Write a Python function `count_divisors(n: int) -> int` that returns how many positive
    integers divide `n` exactly, for n >= 1 (1 and n itself included).
""", r'''
    def count_divisors(n: int) -> int:
        count = 0
        i = 1
        while i * i <= n:
            if n % i == 0:
                count += 1 if i * i == n else 2
            i += 1
        return count
''', r"""
    assert count_divisors(1) == 1
    assert count_divisors(12) == 6
    assert count_divisors(13) == 2
    assert count_divisors(36) == 9
    assert count_divisors(100) == 9
""")

task("math", r"""
    Write a Python function `collatz_steps(n: int) -> int` that, for n >= 1, returns how many
    steps it takes to reach 1 when each step replaces n by n // 2 if n is even and by 3 * n + 1
    if n is odd. collatz_steps(1) is 0.
""", r'''
    def collatz_steps(n: int) -> int:
        steps = 0
        while n != 1:
            n = n // 2 if n % 2 == 0 else 3 * n + 1
            steps += 1
        return steps
''', r"""
    assert collatz_steps(1) == 0
    assert collatz_steps(2) == 1
    assert collatz_steps(6) == 8
    assert collatz_steps(27) == 111
""")

task("math", r"""
    Write a Python function `prime_factors(n: int) -> list[int]` that returns the prime factors
    of `n` in ascending order, each repeated as often as it divides `n` (so 12 gives [2, 2, 3]).
    For n < 2 return [].
""", r'''
    def prime_factors(n: int) -> list[int]:
        factors = []
        d = 2
        while n >= 2 and d * d <= n:
            while n % d == 0:
                factors.append(d)
                n //= d
            d += 1
        if n >= 2:
            factors.append(n)
        return factors
''', r"""
    assert prime_factors(12) == [2, 2, 3]
    assert prime_factors(1) == []
    assert prime_factors(97) == [97]
    assert prime_factors(360) == [2, 2, 2, 3, 3, 5]
    assert prime_factors(0) == []
""")

task("math", r"""
    Write a Python function `is_perfect(n: int) -> bool` that returns True if `n` equals the sum
    of its proper positive divisors (all divisors except n itself), such as 6 = 1 + 2 + 3, and
    False otherwise. Numbers below 2 are not perfect.
""", r'''
    def is_perfect(n: int) -> bool:
        if n < 2:
            return False
        total = 1
        d = 2
        while d * d <= n:
            if n % d == 0:
                total += d
                if d != n // d:
                    total += n // d
            d += 1
        return total == n
''', r"""
    assert is_perfect(6) is True
    assert is_perfect(28) is True
    assert is_perfect(12) is False
    assert is_perfect(1) is False
    assert is_perfect(496) is True
""")

task("math", r"""
    Write a Python function `to_base(n: int, base: int) -> str` that writes the non-negative
    integer `n` in the given base (2 to 16), using the digits 0-9 and lowercase a-f, with no
    prefix. Zero is written '0'.
""", r'''
    def to_base(n: int, base: int) -> str:
        digits = "0123456789abcdef"
        if n == 0:
            return "0"
        out = []
        while n:
            n, r = divmod(n, base)
            out.append(digits[r])
        return "".join(reversed(out))
''', r"""
    assert to_base(10, 2) == '1010'
    assert to_base(255, 16) == 'ff'
    assert to_base(0, 7) == '0'
    assert to_base(8, 8) == '10'
    assert to_base(35, 16) == '23'
""")

task("math", r"""
    Write a Python function `is_power_of(n: int, base: int) -> bool` that returns True if `n`
    equals base ** k for some integer k >= 0 (base >= 2), and False otherwise. Note that 1 is
    base ** 0; zero and negative numbers are never powers.
""", r'''
    def is_power_of(n: int, base: int) -> bool:
        if n < 1:
            return False
        while n % base == 0:
            n //= base
        return n == 1
''', r"""
    assert is_power_of(1, 3) is True
    assert is_power_of(27, 3) is True
    assert is_power_of(28, 3) is False
    assert is_power_of(0, 2) is False
    assert is_power_of(1024, 2) is True
    assert is_power_of(-8, 2) is False
""")

# ---------------------------------------------------------------------------------------------
# recursion
# ---------------------------------------------------------------------------------------------

task("recursion", r"""
    Write a Python function `digital_root(n: int) -> int` that, for n >= 0, repeatedly replaces
    `n` by the sum of its decimal digits until a single digit remains, and returns that digit.
""", r'''
    def digital_root(n: int) -> int:
        if n < 10:
            return n
        return digital_root(sum(int(d) for d in str(n)))
''', r"""
    assert digital_root(0) == 0
    assert digital_root(38) == 2
    assert digital_root(9875) == 2
    assert digital_root(9) == 9
    assert digital_root(10 ** 20) == 1
""")

task("recursion", r"""
    Write a Python function `flatten(nested: list) -> list` that returns a flat list of all
    non-list items of `nested`, a list whose items may themselves be lists nested to any depth,
    in left-to-right order.
""", r'''
    def flatten(nested: list) -> list:
        flat = []
        for item in nested:
            if isinstance(item, list):
                flat.extend(flatten(item))
            else:
                flat.append(item)
        return flat
''', r"""
    assert flatten([1, [2, [3, [4]]], 5]) == [1, 2, 3, 4, 5]
    assert flatten([]) == []
    assert flatten([[], [[]]]) == []
    assert flatten(['a', ['b'], 'c']) == ['a', 'b', 'c']
""")

task("recursion", r"""
    Write a Python function `sum_nested(data: list) -> int` that returns the sum of every integer
    in `data`, a list whose items are integers or further lists or tuples nested to any depth.
""", r'''
    def sum_nested(data: list) -> int:
        if isinstance(data, (list, tuple)):
            return sum(sum_nested(item) for item in data)
        return data
''', r"""
    assert sum_nested([1, [2, 3], (4, [5])]) == 15
    assert sum_nested([]) == 0
    assert sum_nested([[[]]]) == 0
    assert sum_nested([-1, [1, [10]]]) == 10
""")

task("recursion", r"""
    Write a Python function `nesting_depth(value) -> int` that returns how deeply lists are
    nested in `value`: anything that is not a list has depth 0, and a list has depth one more
    than the deepest of its items (so [] and [1, 2] have depth 1).
""", r'''
    def nesting_depth(value) -> int:
        if not isinstance(value, list):
            return 0
        return 1 + max((nesting_depth(item) for item in value), default=0)
''', r"""
    assert nesting_depth([1, 2]) == 1
    assert nesting_depth([]) == 1
    assert nesting_depth([1, [2, [3]]]) == 3
    assert nesting_depth(5) == 0
    assert nesting_depth([[], [[]]]) == 3
""")

task("recursion", r"""
    Write a Python function `deep_reverse(items: list) -> list` that returns a new list with the
    items of `items` in reverse order, where every item that is itself a list is deep-reversed
    too. Items that are not lists are kept as they are.
""", r'''
    def deep_reverse(items: list) -> list:
        return [deep_reverse(item) if isinstance(item, list) else item for item in reversed(items)]
''', r"""
    assert deep_reverse([1, [2, 3], 4]) == [4, [3, 2], 1]
    assert deep_reverse([]) == []
    assert deep_reverse([[1, [2, 3]]]) == [[[3, 2], 1]]
    assert deep_reverse(['ab', 'cd']) == ['cd', 'ab']
""")

task("recursion", r"""
    Write a Python function `hanoi_moves(n: int, src: str = 'A', dst: str = 'C', via: str = 'B')
    -> list[tuple[str, str]]` that returns the moves that solve the Towers of Hanoi with `n`
    disks from peg `src` to peg `dst` using peg `via`, as (from_peg, to_peg) tuples, using the
    minimum number of moves (2 ** n - 1). n = 0 gives [].
""", r'''
    def hanoi_moves(n: int, src: str = "A", dst: str = "C", via: str = "B") -> list[tuple[str, str]]:
        if n == 0:
            return []
        return hanoi_moves(n - 1, src, via, dst) + [(src, dst)] + hanoi_moves(n - 1, via, dst, src)
''', r"""
    assert hanoi_moves(1) == [('A', 'C')]
    assert hanoi_moves(2) == [('A', 'B'), ('A', 'C'), ('B', 'C')]
    assert len(hanoi_moves(5)) == 31
    assert hanoi_moves(0) == []
    assert hanoi_moves(1, 'L', 'R', 'M') == [('L', 'R')]
""")

task("recursion", r"""
    Write a Python function `power_set(items: list) -> list[list]` that returns every subset of
    `items` as a list, each subset keeping the items in their original order. The subsets may
    come in any order. The power set of [] is [[]].
""", r'''
    def power_set(items: list) -> list[list]:
        if not items:
            return [[]]
        rest = power_set(items[1:])
        return rest + [[items[0]] + subset for subset in rest]
''', r"""
    assert sorted(power_set([1, 2, 3])) == [[], [1], [1, 2], [1, 2, 3], [1, 3], [2], [2, 3], [3]]
    assert power_set([]) == [[]]
    assert len(power_set([1, 2, 3, 4])) == 16
    assert sorted(power_set(['b', 'a'])) == [[], ['a'], ['b'], ['b', 'a']]
""")

task("recursion", r"""
    Write a Python function `permutations_of(s: str) -> list[str]` that returns every distinct
    rearrangement of the characters of `s`, sorted alphabetically, without duplicates. The empty
    string has one permutation, ''.
""", r'''
    def permutations_of(s: str) -> list[str]:
        if len(s) <= 1:
            return [s]
        found = set()
        for i, ch in enumerate(s):
            for rest in permutations_of(s[:i] + s[i + 1:]):
                found.add(ch + rest)
        return sorted(found)
''', r"""
    assert permutations_of('abc') == ['abc', 'acb', 'bac', 'bca', 'cab', 'cba']
    assert permutations_of('aab') == ['aab', 'aba', 'baa']
    assert permutations_of('') == ['']
    assert permutations_of('x') == ['x']
""")

task("recursion", r"""
    Write a Python function `no_double_ones(n: int) -> list[str]` that returns, in sorted order,
    every string of length `n` made of the characters '0' and '1' that never has two '1'
    characters next to each other. n = 0 gives [''].
""", r'''
    def no_double_ones(n: int) -> list[str]:
        if n == 0:
            return [""]
        out = []
        for s in no_double_ones(n - 1):
            out.append(s + "0")
            if not s.endswith("1"):
                out.append(s + "1")
        return sorted(out)
''', r"""
    assert no_double_ones(1) == ['0', '1']
    assert no_double_ones(2) == ['00', '01', '10']
    assert no_double_ones(3) == ['000', '001', '010', '100', '101']
    assert no_double_ones(0) == ['']
    assert len(no_double_ones(10)) == 144
""")

task("recursion", r"""
    Write a Python function `balanced_parens(n: int) -> list[str]` that returns every string of
    `n` '(' and `n` ')' characters in which the parentheses are balanced, sorted in ascending
    string order. n = 0 gives [''].
""", r'''
    def balanced_parens(n: int) -> list[str]:
        out = []

        def build(prefix: str, opened: int, closed: int) -> None:
            if len(prefix) == 2 * n:
                out.append(prefix)
                return
            # '(' sorts before ')', so trying '(' first yields the strings already in order
            if opened < n:
                build(prefix + "(", opened + 1, closed)
            if closed < opened:
                build(prefix + ")", opened, closed + 1)

        build("", 0, 0)
        return out
''', r"""
    assert balanced_parens(0) == ['']
    assert balanced_parens(1) == ['()']
    assert balanced_parens(2) == ['(())', '()()']
    assert balanced_parens(3) == ['((()))', '(()())', '(())()', '()(())', '()()()']
    assert len(balanced_parens(4)) == 14
""")

# ---------------------------------------------------------------------------------------------
# sorting and searching
# ---------------------------------------------------------------------------------------------

task("sorting_searching", r"""
    Write a Python function `sort_by_length(words: list[str]) -> list[str]` that returns a new
    list of the words sorted by length, shortest first; words of equal length keep their
    original relative order.
""", r'''
    def sort_by_length(words: list[str]) -> list[str]:
        return sorted(words, key=len)
''', r"""
    assert sort_by_length(['ccc', 'a', 'bb', 'd']) == ['a', 'd', 'bb', 'ccc']
    assert sort_by_length([]) == []
    assert sort_by_length(['xy', 'ab']) == ['xy', 'ab']
    assert sort_by_length(['', 'a']) == ['', 'a']
""")

task("sorting_searching", r"""
    Write a Python function `kth_smallest(nums: list[int], k: int) -> int` that returns the k-th
    smallest number in `nums`, counting from k = 1 and counting repeated values separately.
    You may assume 1 <= k <= len(nums).
""", r'''
    def kth_smallest(nums: list[int], k: int) -> int:
        return sorted(nums)[k - 1]
''', r"""
    assert kth_smallest([7, 2, 9, 4], 1) == 2
    assert kth_smallest([7, 2, 9, 4], 3) == 7
    assert kth_smallest([5], 1) == 5
    assert kth_smallest([3, 3, 1], 2) == 3
""")

task("sorting_searching", r"""
    Write a Python function `merge_sorted(a: list[int], b: list[int]) -> list[int]` that merges
    two lists that are each sorted in ascending order into one sorted list, keeping duplicates.
""", r'''
    def merge_sorted(a: list[int], b: list[int]) -> list[int]:
        out = []
        i = j = 0
        while i < len(a) and j < len(b):
            if a[i] <= b[j]:
                out.append(a[i])
                i += 1
            else:
                out.append(b[j])
                j += 1
        return out + a[i:] + b[j:]
''', r"""
    assert merge_sorted([1, 4, 6], [2, 3, 7]) == [1, 2, 3, 4, 6, 7]
    assert merge_sorted([], [1]) == [1]
    assert merge_sorted([], []) == []
    assert merge_sorted([1, 1], [1]) == [1, 1, 1]
""")

task("sorting_searching", r"""
    Write a Python function `binary_search(items: list[int], target: int) -> int` that returns
    the index of `target` in the ascending sorted list `items`, or -1 if it is absent. If the
    target occurs several times, return its leftmost index. Use binary search.
""", r'''
    def binary_search(items: list[int], target: int) -> int:
        lo, hi = 0, len(items)
        while lo < hi:
            mid = (lo + hi) // 2
            if items[mid] < target:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < len(items) and items[lo] == target else -1
''', r"""
    assert binary_search([1, 3, 5, 7], 5) == 2
    assert binary_search([], 1) == -1
    assert binary_search([1, 2, 2, 2, 3], 2) == 1
    assert binary_search([1, 3], 2) == -1
    assert binary_search([4], 4) == 0
""")

task("sorting_searching", r"""
    Write a Python function `insert_position(items: list[int], target: int) -> int` that returns
    the index at which `target` should be inserted into the ascending sorted list `items` to keep
    it sorted; if equal values are present, return the position before them.
""", r'''
    from bisect import bisect_left


    def insert_position(items: list[int], target: int) -> int:
        return bisect_left(items, target)
''', r"""
    assert insert_position([1, 3, 5, 6], 5) == 2
    assert insert_position([1, 3, 5, 6], 2) == 1
    assert insert_position([1, 3, 5, 6], 7) == 4
    assert insert_position([], 3) == 0
    assert insert_position([1, 3], 0) == 0
""")

task("sorting_searching", r"""
    Write a Python function `sort_people(people: list[tuple[str, int]]) -> list[tuple[str, int]]`
    that sorts (name, age) pairs by age from oldest to youngest, and people of the same age by
    name alphabetically. Return a new list.
""", r'''
    def sort_people(people: list[tuple[str, int]]) -> list[tuple[str, int]]:
        return sorted(people, key=lambda person: (-person[1], person[0]))
''', r"""
    assert sort_people([('bob', 30), ('amy', 30), ('cid', 25)]) == [('amy', 30), ('bob', 30), ('cid', 25)]
    assert sort_people([]) == []
    assert sort_people([('z', 1), ('a', 2)]) == [('a', 2), ('z', 1)]
    assert sort_people([('solo', 40)]) == [('solo', 40)]
""")

task("sorting_searching", r"""
    Write a Python function `closest_value(nums: list[int], target: int) -> int` that returns the
    number in the non-empty list `nums` closest to `target`. If two numbers are equally close,
    return the smaller one.
""", r'''
    def closest_value(nums: list[int], target: int) -> int:
        return min(nums, key=lambda x: (abs(x - target), x))
''', r"""
    assert closest_value([1, 5, 9], 6) == 5
    assert closest_value([1, 5, 9], 7) == 5
    assert closest_value([1, 5, 9], 8) == 9
    assert closest_value([10], -3) == 10
    assert closest_value([4, -4], 0) == -4
""")

task("sorting_searching", r"""
    Write a Python function `sort_by_frequency(nums: list[int]) -> list[int]` that returns the
    numbers of `nums` sorted so that more frequent values come first, values with equal
    frequency in ascending order, and each value repeated as many times as it occurs.
""", r'''
    from collections import Counter


    def sort_by_frequency(nums: list[int]) -> list[int]:
        counts = Counter(nums)
        return sorted(nums, key=lambda x: (-counts[x], x))
''', r"""
    assert sort_by_frequency([4, 6, 2, 6, 4, 4]) == [4, 4, 4, 6, 6, 2]
    assert sort_by_frequency([]) == []
    assert sort_by_frequency([3, 1, 2]) == [1, 2, 3]
    assert sort_by_frequency([5, -1, -1, 5]) == [-1, -1, 5, 5]
""")

task("sorting_searching", r"""
    Write a Python function `count_inversions(nums: list[int]) -> int` that returns the number
    of index pairs (i, j) with i < j and nums[i] > nums[j].
""", r'''
    def count_inversions(nums: list[int]) -> int:
        return sum(1 for i in range(len(nums)) for j in range(i + 1, len(nums)) if nums[i] > nums[j])
''', r"""
    assert count_inversions([2, 4, 1, 3, 5]) == 3
    assert count_inversions([]) == 0
    assert count_inversions([1, 2, 3]) == 0
    assert count_inversions([3, 2, 1]) == 3
    assert count_inversions([1, 1]) == 0
""")

task("sorting_searching", r"""
    Write a Python function `rotated_min(nums: list[int]) -> int` that returns the smallest
    value of `nums`, a non-empty list of distinct numbers that was sorted ascending and then
    rotated by some amount (for example [4, 5, 1, 2, 3]). Use a binary search, O(log n).
""", r'''
    def rotated_min(nums: list[int]) -> int:
        lo, hi = 0, len(nums) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if nums[mid] > nums[hi]:
                lo = mid + 1  # the drop is right of mid
            else:
                hi = mid
        return nums[lo]
''', r"""
    assert rotated_min([4, 5, 6, 7, 0, 1, 2]) == 0
    assert rotated_min([1]) == 1
    assert rotated_min([2, 1]) == 1
    assert rotated_min([1, 2, 3]) == 1
    assert rotated_min([3, 4, 5, 1, 2]) == 1
""")

# ---------------------------------------------------------------------------------------------
# dynamic programming
# ---------------------------------------------------------------------------------------------

task("dynamic_programming", r"""
    Write a Python function `fibonacci(n: int) -> int` that returns the n-th Fibonacci number,
    with fibonacci(0) == 0 and fibonacci(1) == 1. It must be fast for n up to 90.
""", r'''
    def fibonacci(n: int) -> int:
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return a
''', r"""
    assert fibonacci(0) == 0
    assert fibonacci(1) == 1
    assert fibonacci(10) == 55
    assert fibonacci(90) == 2880067194370816120
""")

task("dynamic_programming", r"""
    Write a Python function `climb_stairs(n: int) -> int` that returns in how many different
    ways a staircase of `n` steps can be climbed taking 1 or 2 steps at a time. A staircase of
    0 steps can be climbed in exactly 1 way.
""", r'''
    def climb_stairs(n: int) -> int:
        a, b = 1, 1
        for _ in range(n):
            a, b = b, a + b
        return a
''', r"""
    assert climb_stairs(0) == 1
    assert climb_stairs(1) == 1
    assert climb_stairs(2) == 2
    assert climb_stairs(5) == 8
    assert climb_stairs(30) == 1346269
""")

task("dynamic_programming", r"""
    Write a Python function `grid_paths(rows: int, cols: int) -> int` that returns how many paths
    lead from the top-left cell to the bottom-right cell of a rows x cols grid (both >= 1) when
    every move goes one cell right or one cell down.
""", r'''
    def grid_paths(rows: int, cols: int) -> int:
        ways = [1] * cols  # ways[c]: paths reaching column c of the current row
        for _ in range(1, rows):
            for c in range(1, cols):
                ways[c] += ways[c - 1]
        return ways[-1]
''', r"""
    assert grid_paths(1, 1) == 1
    assert grid_paths(2, 2) == 2
    assert grid_paths(3, 3) == 6
    assert grid_paths(3, 7) == 28
    assert grid_paths(10, 10) == 48620
""")

task("dynamic_programming", r"""
    Write a Python function `max_subarray_sum(nums: list[int]) -> int` that returns the largest
    sum of a non-empty run of consecutive items of the non-empty list `nums`. If every number is
    negative, the answer is the largest single number.
""", r'''
    def max_subarray_sum(nums: list[int]) -> int:
        best = current = nums[0]
        for x in nums[1:]:
            current = max(x, current + x)  # best sum of a run ending at x
            best = max(best, current)
        return best
''', r"""
    assert max_subarray_sum([3, -4, 5, -1, 2, -6, 1]) == 6
    assert max_subarray_sum([-3, -1, -2]) == -1
    assert max_subarray_sum([5]) == 5
    assert max_subarray_sum([1, 2, 3]) == 6
""")

task("dynamic_programming", r"""
    Write a Python function `max_non_adjacent_sum(nums: list[int]) -> int` that returns the
    largest sum you can get by picking items of `nums` such that no two picked items are next to
    each other. Picking nothing is allowed, so the answer is never below 0.
""", r'''
    def max_non_adjacent_sum(nums: list[int]) -> int:
        take, skip = 0, 0  # best sums whose last item is / is not picked
        for x in nums:
            take, skip = skip + x, max(take, skip)
        return max(take, skip)
''', r"""
    assert max_non_adjacent_sum([2, 7, 9, 3, 1]) == 12
    assert max_non_adjacent_sum([]) == 0
    assert max_non_adjacent_sum([-1, -2]) == 0
    assert max_non_adjacent_sum([5, 1, 1, 5]) == 10
    assert max_non_adjacent_sum([4]) == 4
""")

task("dynamic_programming", r"""
    Write a Python function `min_coins(coins: list[int], amount: int) -> int` that returns the
    fewest coins that add up to `amount`, using any number of coins of each positive value in
    `coins`. Return -1 if the amount cannot be made, and 0 for amount 0.
""", r'''
    def min_coins(coins: list[int], amount: int) -> int:
        unreachable = amount + 1
        best = [0] + [unreachable] * amount  # best[t]: fewest coins summing to t
        for total in range(1, amount + 1):
            for coin in coins:
                if coin <= total and best[total - coin] + 1 < best[total]:
                    best[total] = best[total - coin] + 1
        return best[amount] if best[amount] != unreachable else -1
''', r"""
    assert min_coins([1, 2, 5], 11) == 3
    assert min_coins([2], 3) == -1
    assert min_coins([1], 0) == 0
    assert min_coins([3, 7], 14) == 2
    assert min_coins([4, 5], 13) == 3
""")

task("dynamic_programming", r"""
    Write a Python function `lis_length(nums: list[int]) -> int` that returns the length of the
    longest strictly increasing subsequence of `nums` (items in their original order, not
    necessarily adjacent). An empty list gives 0.
""", r'''
    from bisect import bisect_left


    def lis_length(nums: list[int]) -> int:
        tails = []  # tails[k]: smallest tail of an increasing subsequence of length k + 1
        for x in nums:
            i = bisect_left(tails, x)
            if i == len(tails):
                tails.append(x)
            else:
                tails[i] = x
        return len(tails)
''', r"""
    assert lis_length([3, 1, 4, 1, 5, 9, 2, 6]) == 4
    assert lis_length([]) == 0
    assert lis_length([5, 5, 5]) == 1
    assert lis_length([1, 2, 3, 4]) == 4
    assert lis_length([4, 3, 2, 1]) == 1
""")

task("dynamic_programming", r"""
    Write a Python function `lcs_length(a: str, b: str) -> int` that returns the length of the
    longest common subsequence of `a` and `b`: the longest string whose characters appear in
    both, in the same order, though not necessarily next to each other.
""", r'''
    def lcs_length(a: str, b: str) -> int:
        prev = [0] * (len(b) + 1)  # prev[j]: LCS of the previous prefix of a and b[:j]
        for ca in a:
            cur = [0]
            for j, cb in enumerate(b, 1):
                cur.append(prev[j - 1] + 1 if ca == cb else max(prev[j], cur[j - 1]))
            prev = cur
        return prev[-1]
''', r"""
    assert lcs_length('abcde', 'ace') == 3
    assert lcs_length('abc', 'def') == 0
    assert lcs_length('', 'a') == 0
    assert lcs_length('banana', 'atana') == 4
""")

task("dynamic_programming", r"""
    Write a Python function `edit_distance(a: str, b: str) -> int` that returns the smallest
    number of single-character insertions, deletions and substitutions that turn `a` into `b`
    (the Levenshtein distance).
""", r'''
    def edit_distance(a: str, b: str) -> int:
        prev = list(range(len(b) + 1))  # distances from the previous prefix of a to each prefix of b
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]
''', r"""
    assert edit_distance('horse', 'hose') == 1
    assert edit_distance('', 'abc') == 3
    assert edit_distance('same', 'same') == 0
    assert edit_distance('flaw', 'lawn') == 2
    assert edit_distance('abc', '') == 3
""")

task("dynamic_programming", r"""
    Write a Python function `can_partition(nums: list[int]) -> bool` that returns True if the
    non-negative integers in `nums` can be split into two groups with equal sums (every number
    goes into exactly one group; a group may be empty), and False otherwise.
""", r'''
    def can_partition(nums: list[int]) -> bool:
        total = sum(nums)
        if total % 2:
            return False
        reachable = {0}  # subset sums seen so far
        for x in nums:
            reachable |= {s + x for s in reachable}
        return total // 2 in reachable
''', r"""
    assert can_partition([3, 1, 4, 2, 2]) is True
    assert can_partition([1, 2, 5]) is False
    assert can_partition([]) is True
    assert can_partition([2, 2]) is True
    assert can_partition([7]) is False
""")

task("dynamic_programming", r"""
    Write a Python function `word_break(s: str, words: list[str]) -> bool` that returns True if
    `s` can be written as a concatenation of one or more words from `words` (each word may be
    used any number of times), and False otherwise. The empty string is always breakable.
""", r'''
    def word_break(s: str, words: list[str]) -> bool:
        ok = [True] + [False] * len(s)  # ok[i]: s[:i] can be broken into words
        for end in range(1, len(s) + 1):
            ok[end] = any(ok[end - len(w)] and s[end - len(w):end] == w for w in words if 0 < len(w) <= end)
        return ok[len(s)]
''', r"""
    assert word_break('applepie', ['apple', 'pie']) is True
    assert word_break('applepen', ['apple', 'pie']) is False
    assert word_break('', ['a']) is True
    assert word_break('aaaa', ['a', 'aa']) is True
    assert word_break('catsand', ['cat', 'cats', 'and', 'sand']) is True
""")

# ---------------------------------------------------------------------------------------------
# parsing and regular expressions
# ---------------------------------------------------------------------------------------------

task("parsing", r"""
    Write a Python function `extract_numbers(text: str) -> list[int]` that returns every integer
    written in `text`, in order of appearance, as ints. An integer is a run of decimal digits,
    negative when a '-' comes directly before the first digit.
""", r'''
    import re


    def extract_numbers(text: str) -> list[int]:
        return [int(m) for m in re.findall(r"-?\d+", text)]
''', r"""
    assert extract_numbers('a1b22c-3') == [1, 22, -3]
    assert extract_numbers('none') == []
    assert extract_numbers('x 007 y') == [7]
    assert extract_numbers('temp -4 to 12') == [-4, 12]
""")

task("parsing", r"""
    Write a Python function `tokenize_expression(expr: str) -> list[str]` that splits an
    arithmetic expression into tokens: runs of digits, and the single characters + - * / ( ).
    Spaces separate nothing and are dropped. Return the tokens as strings, in order.
""", r'''
    import re


    def tokenize_expression(expr: str) -> list[str]:
        return re.findall(r"\d+|[-+*/()]", expr)
''', r"""
    assert tokenize_expression('3+4*(2-1)') == ['3', '+', '4', '*', '(', '2', '-', '1', ')']
    assert tokenize_expression('') == []
    assert tokenize_expression(' 12 /  4 ') == ['12', '/', '4']
    assert tokenize_expression('(7)') == ['(', '7', ')']
""")

task("parsing", r"""
    Write a Python function `camel_to_snake(name: str) -> str` that converts a camelCase or
    PascalCase identifier to snake_case: every uppercase letter becomes an underscore followed by
    its lowercase form, except an uppercase letter at the very start, which is just lowercased.
""", r'''
    def camel_to_snake(name: str) -> str:
        out = []
        for i, ch in enumerate(name):
            if ch.isupper() and i > 0:
                out.append("_")
            out.append(ch.lower())
        return "".join(out)
''', r"""
    assert camel_to_snake('camelCase') == 'camel_case'
    assert camel_to_snake('Already') == 'already'
    assert camel_to_snake('x') == 'x'
    assert camel_to_snake('toJsonString') == 'to_json_string'
""")

task("parsing", r"""
    Write a Python function `normalize_phone(s: str) -> str` that keeps only the decimal digits
    of `s`; if exactly 10 digits remain, return them formatted as 'DDD-DDD-DDDD', otherwise
    return ''.
""", r'''
    def normalize_phone(s: str) -> str:
        digits = "".join(ch for ch in s if ch.isdigit())
        if len(digits) != 10:
            return ""
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
''', r"""
    assert normalize_phone('(555) 123-4567') == '555-123-4567'
    assert normalize_phone('555.123.4567') == '555-123-4567'
    assert normalize_phone('12345') == ''
    assert normalize_phone('') == ''
    assert normalize_phone('1 555 123 4567') == ''
""")

task("parsing", r"""
    Write a Python function `parse_key_values(text: str) -> dict[str, str]` that parses text
    like 'a=1; b = two' into {'a': '1', 'b': 'two'}. Pairs are separated by ';'; each pair is
    split at its first '='; keys and values are stripped of surrounding whitespace; pieces
    without an '=' are ignored; a repeated key keeps its last value.
""", r'''
    def parse_key_values(text: str) -> dict[str, str]:
        result = {}
        for piece in text.split(";"):
            if "=" not in piece:
                continue
            key, value = piece.split("=", 1)
            result[key.strip()] = value.strip()
        return result
''', r"""
    assert parse_key_values('a=1; b = two') == {'a': '1', 'b': 'two'}
    assert parse_key_values('') == {}
    assert parse_key_values('x=1;;y=2;') == {'x': '1', 'y': '2'}
    assert parse_key_values('k=v=w') == {'k': 'v=w'}
    assert parse_key_values('junk; a=b; a=c') == {'a': 'c'}
""")

task("parsing", r"""
    Write a Python function `find_hashtags(text: str) -> list[str]` that returns the hashtags in
    `text`: a '#' immediately followed by one or more letters, digits or underscores. Return each
    tag without its '#', lowercased, once, in order of first appearance.
""", r'''
    import re


    def find_hashtags(text: str) -> list[str]:
        tags = []
        for tag in re.findall(r"#(\w+)", text):
            tag = tag.lower()
            if tag not in tags:
                tags.append(tag)
        return tags
''', r"""
    assert find_hashtags('Loving #Python and #python #code!') == ['python', 'code']
    assert find_hashtags('no tags') == []
    assert find_hashtags('# alone') == []
    assert find_hashtags('#x1_y2 end') == ['x1_y2']
""")

task("parsing", r"""
    Write a Python function `compare_versions(a: str, b: str) -> int` that compares two version
    strings made of non-negative integers separated by dots, such as '1.10.2'. Compare the
    numbers part by part, treating missing parts as 0, and return -1 if a < b, 0 if they are
    equal and 1 if a > b.
""", r'''
    def compare_versions(a: str, b: str) -> int:
        pa = [int(part) for part in a.split(".")]
        pb = [int(part) for part in b.split(".")]
        width = max(len(pa), len(pb))
        pa += [0] * (width - len(pa))
        pb += [0] * (width - len(pb))
        return (pa > pb) - (pa < pb)
''', r"""
    assert compare_versions('1.2', '1.10') == -1
    assert compare_versions('1.0', '1') == 0
    assert compare_versions('2.0.1', '2.0.0') == 1
    assert compare_versions('0.9.9', '1') == -1
    assert compare_versions('3', '3.0.0') == 0
""")

task("parsing", r"""
    Write a Python function `parse_duration(s: str) -> int` that converts a duration such as
    '1h30m', '45s' or '1h2m3s' into a number of seconds. The string holds optional parts in the
    order hours (h), minutes (m), seconds (s), each a decimal number followed by its letter; an
    empty string means 0. You may assume the input is well formed.
""", r'''
    import re


    def parse_duration(s: str) -> int:
        match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", s)
        hours, minutes, seconds = (int(group) if group else 0 for group in match.groups())
        return hours * 3600 + minutes * 60 + seconds
''', r"""
    assert parse_duration('1h30m') == 5400
    assert parse_duration('45s') == 45
    assert parse_duration('2h5s') == 7205
    assert parse_duration('') == 0
    assert parse_duration('1h2m3s') == 3723
""")

task("parsing", r"""
    Write a Python function `is_valid_email(s: str) -> bool` that checks a simplified e-mail
    format: a non-empty local part of letters, digits, '.', '_' or '-'; then exactly one '@';
    then a domain of two or more dot-separated labels, each label made of letters, digits or
    '-', the last label being letters only and at least two long. Return True or False.
""", r'''
    import re


    def is_valid_email(s: str) -> bool:
        return re.fullmatch(r"[A-Za-z0-9._-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}", s) is not None
''', r"""
    assert is_valid_email('ann.lee@example.com') is True
    assert is_valid_email('no-at-sign.com') is False
    assert is_valid_email('a@b') is False
    assert is_valid_email('x@y.c') is False
    assert is_valid_email('first@sub.domain.org') is True
    assert is_valid_email('two@@at.com') is False
""")

task("parsing", r'''
    Write a Python function `parse_csv_line(line: str) -> list[str]` that splits one line of CSV
    into its fields. Fields are separated by commas. A field may be wrapped in double quotes;
    inside quotes a comma is an ordinary character and two double quotes ("") stand for one
    double quote. The quotes themselves are not part of the field. An empty line has one empty
    field.
''', r'''
    def parse_csv_line(line: str) -> list[str]:
        fields, field, quoted, i = [], [], False, 0
        while i < len(line):
            ch = line[i]
            if quoted and ch == '"' and line[i + 1:i + 2] == '"':
                field.append('"')  # an escaped quote inside a quoted field
                i += 1
            elif ch == '"':
                quoted = not quoted
            elif ch == "," and not quoted:
                fields.append("".join(field))
                field = []
            else:
                field.append(ch)
            i += 1
        fields.append("".join(field))
        return fields
''', r'''
    assert parse_csv_line('a,b,c') == ['a', 'b', 'c']
    assert parse_csv_line('') == ['']
    assert parse_csv_line('"x,y",z') == ['x,y', 'z']
    assert parse_csv_line('"say ""hi""",2') == ['say "hi"', '2']
    assert parse_csv_line('a,,b') == ['a', '', 'b']
''')

# ---------------------------------------------------------------------------------------------
# text processing
# ---------------------------------------------------------------------------------------------

task("text", r"""
    Write a Python function `word_count(text: str) -> int` that returns the number of words in
    `text`, where a word is a maximal run of non-whitespace characters.
""", r'''
    def word_count(text: str) -> int:
        return len(text.split())
''', r"""
    assert word_count('hello world') == 2
    assert word_count('') == 0
    assert word_count('  spaced   out  ') == 2
    assert word_count('one') == 1
    assert word_count('tab\tand\nnewline') == 3
""")

task("text", r"""
    Write a Python function `is_pangram(text: str) -> bool` that returns True if `text` contains
    every letter of the English alphabet at least once, in either case, and False otherwise.
""", r'''
    def is_pangram(text: str) -> bool:
        return set("abcdefghijklmnopqrstuvwxyz") <= set(text.lower())
''', r"""
    assert is_pangram('The quick brown fox jumps over the lazy dog') is True
    assert is_pangram('abc') is False
    assert is_pangram('') is False
    assert is_pangram('Pack my box with five dozen liquor jugs!') is True
""")

task("text", r"""
    Write a Python function `acronym(phrase: str) -> str` that returns the uppercase first
    letters of the words of `phrase`, where words are separated by spaces and/or hyphens.
""", r'''
    import re


    def acronym(phrase: str) -> str:
        return "".join(word[0].upper() for word in re.split(r"[\s-]+", phrase) if word)
''', r"""
    assert acronym('portable network graphics') == 'PNG'
    assert acronym('self-contained underwater breathing apparatus') == 'SCUBA'
    assert acronym('') == ''
    assert acronym('  as  soon as possible ') == 'ASAP'
""")

task("text", r"""
    Write a Python function `longest_word(text: str) -> str` that returns the longest word in
    `text`, where a word is a maximal run of ASCII letters (so punctuation and digits split
    words). If several words are equally long, return the first. Return '' if there are none.
""", r'''
    import re


    def longest_word(text: str) -> str:
        best = ""
        for word in re.findall(r"[A-Za-z]+", text):
            if len(word) > len(best):
                best = word
        return best
''', r"""
    assert longest_word('a quick brown-fox') == 'quick'
    assert longest_word('') == ''
    assert longest_word('hi, there!') == 'there'
    assert longest_word('ab cd') == 'ab'
    assert longest_word('123 !!') == ''
""")

task("text", r"""
    Write a Python function `number_lines(text: str) -> str` that splits `text` on newline
    characters ('\n') and prefixes every line with its 1-based number and ': ', joining the
    lines back with '\n'. An empty text gives ''.
""", r'''
    def number_lines(text: str) -> str:
        if not text:
            return ""
        return "\n".join(f"{i}: {line}" for i, line in enumerate(text.split("\n"), 1))
''', r"""
    assert number_lines('a\nb') == '1: a\n2: b'
    assert number_lines('') == ''
    assert number_lines('only') == '1: only'
    assert number_lines('x\n\ny') == '1: x\n2: \n3: y'
""")

task("text", r"""
    Write a Python function `truncate_words(text: str, n: int) -> str` that keeps the first `n`
    whitespace-separated words of `text` joined by single spaces, and appends '...' if any words
    were dropped.
""", r'''
    def truncate_words(text: str, n: int) -> str:
        words = text.split()
        if len(words) <= n:
            return " ".join(words)
        return " ".join(words[:n]) + "..."
''', r"""
    assert truncate_words('one two three four', 2) == 'one two...'
    assert truncate_words('one two', 2) == 'one two'
    assert truncate_words('', 3) == ''
    assert truncate_words('a  b   c', 5) == 'a b c'
""")

task("text", r"""
    Write a Python function `count_sentences(text: str) -> int` that splits `text` at every run
    of the characters '.', '!' and '?' and returns how many of the resulting pieces contain at
    least one non-whitespace character.
""", r'''
    import re


    def count_sentences(text: str) -> int:
        return sum(1 for piece in re.split(r"[.!?]+", text) if piece.strip())
''', r"""
    assert count_sentences('Hi. How are you? Fine!') == 3
    assert count_sentences('') == 0
    assert count_sentences('Wait... what?!') == 2
    assert count_sentences('no end') == 1
    assert count_sentences('One. two') == 2
""")

task("text", r"""
    Write a Python function `censor(text: str, banned: list[str]) -> str` that replaces every
    word of `text` that matches a word in `banned` (ignoring case) with as many '*' characters
    as it has letters. A word is a maximal run of ASCII letters; everything else is unchanged.
""", r'''
    import re


    def censor(text: str, banned: list[str]) -> str:
        banned_lower = {word.lower() for word in banned}

        def mask(match: re.Match) -> str:
            word = match.group()
            return "*" * len(word) if word.lower() in banned_lower else word

        return re.sub(r"[A-Za-z]+", mask, text)
''', r"""
    assert censor('Darn it, darnit', ['darn']) == '**** it, darnit'
    assert censor('', ['x']) == ''
    assert censor('Bad bad BAD', ['bad']) == '*** *** ***'
    assert censor('nothing here', []) == 'nothing here'
""")

task("text", r"""
    Write a Python function `wrap_text(text: str, width: int) -> list[str]` that word-wraps
    `text` greedily: take the whitespace-separated words in order and put as many on each line
    as fit within `width` characters, joined by single spaces. A word longer than `width` goes
    on a line of its own. Empty text gives [].
""", r'''
    def wrap_text(text: str, width: int) -> list[str]:
        lines, current = [], ""
        for word in text.split():
            if not current:
                current = word
            elif len(current) + 1 + len(word) <= width:
                current += " " + word
            else:
                lines.append(current)
                current = word
        if current:
            lines.append(current)
        return lines
''', r"""
    assert wrap_text('the quick brown fox', 10) == ['the quick', 'brown fox']
    assert wrap_text('', 5) == []
    assert wrap_text('a b c', 1) == ['a', 'b', 'c']
    assert wrap_text('elephant', 3) == ['elephant']
    assert wrap_text('aa bb cc', 5) == ['aa bb', 'cc']
""")

task("text", r"""
    Write a Python function `pad_columns(rows: list[list[str]]) -> list[str]` that lays out a
    table whose rows all have the same number of cells: each cell is left-aligned and padded
    with spaces to the width of the widest cell in its column, cells are joined with two spaces,
    and trailing spaces are removed from each line. An empty table gives [].
""", r'''
    def pad_columns(rows: list[list[str]]) -> list[str]:
        if not rows:
            return []
        widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
        return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
''', r"""
    assert pad_columns([['a', 'bb'], ['ccc', 'd']]) == ['a    bb', 'ccc  d']
    assert pad_columns([]) == []
    assert pad_columns([['x']]) == ['x']
    assert pad_columns([['id', 'name'], ['7', 'al']]) == ['id  name', '7   al']
""")

# ---------------------------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------------------------

task("geometry", r"""
    Write a Python function `manhattan_distance(p: tuple[int, int], q: tuple[int, int]) -> int`
    that returns |x1 - x2| + |y1 - y2| for the points p = (x1, y1) and q = (x2, y2).
""", r'''
    def manhattan_distance(p: tuple[int, int], q: tuple[int, int]) -> int:
        return abs(p[0] - q[0]) + abs(p[1] - q[1])
''', r"""
    assert manhattan_distance((1, 2), (4, 6)) == 7
    assert manhattan_distance((0, 0), (0, 0)) == 0
    assert manhattan_distance((-1, -1), (1, 1)) == 4
    assert manhattan_distance((5, 0), (0, 0)) == 5
""")

task("geometry", r"""
    Write a Python function `distance(p: tuple[float, float], q: tuple[float, float]) -> float`
    that returns the Euclidean distance between the points p and q in the plane.
""", r'''
    import math


    def distance(p: tuple[float, float], q: tuple[float, float]) -> float:
        return math.hypot(q[0] - p[0], q[1] - p[1])
''', r"""
    assert distance((0, 0), (3, 4)) == 5.0
    assert distance((1, 1), (1, 1)) == 0.0
    assert abs(distance((-1, 2), (2, -2)) - 5.0) < 1e-9
    assert abs(distance((0, 0), (1, 1)) - 2 ** 0.5) < 1e-9
""")

task("geometry", r"""
    Write a Python function `bounding_box(points: list[tuple[int, int]]) -> tuple[int, int, int, int] | None`
    that returns (min_x, min_y, max_x, max_y), the smallest axis-aligned box holding all the
    points, or None for an empty list.
""", r'''
    def bounding_box(points: list[tuple[int, int]]) -> tuple[int, int, int, int] | None:
        if not points:
            return None
        xs = [x for x, _ in points]
        ys = [y for _, y in points]
        return (min(xs), min(ys), max(xs), max(ys))
''', r"""
    assert bounding_box([(1, 2), (3, -1), (0, 5)]) == (0, -1, 3, 5)
    assert bounding_box([]) is None
    assert bounding_box([(2, 2)]) == (2, 2, 2, 2)
""")

task("geometry", r"""
    Write a Python function `point_in_rectangle(p: tuple[int, int], corner1: tuple[int, int],
    corner2: tuple[int, int]) -> bool` that returns True if point `p` lies inside or on the
    border of the axis-aligned rectangle with opposite corners `corner1` and `corner2` (given in
    any order), and False otherwise.
""", r'''
    def point_in_rectangle(p: tuple[int, int], corner1: tuple[int, int], corner2: tuple[int, int]) -> bool:
        (x, y), (x1, y1), (x2, y2) = p, corner1, corner2
        return min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2)
''', r"""
    assert point_in_rectangle((1, 1), (0, 0), (2, 2)) is True
    assert point_in_rectangle((2, 1), (0, 0), (2, 2)) is True
    assert point_in_rectangle((3, 1), (0, 0), (2, 2)) is False
    assert point_in_rectangle((1, 1), (2, 2), (0, 0)) is True
    assert point_in_rectangle((-1, 0), (0, 0), (2, 2)) is False
""")

task("geometry", r"""
    Write a Python function `is_right_triangle(a: int, b: int, c: int) -> bool` that returns True
    if positive side lengths a, b and c (in any order) form a right triangle, that is the two
    shorter sides squared add up to the longest side squared. If any side is zero or negative,
    return False.
""", r'''
    def is_right_triangle(a: int, b: int, c: int) -> bool:
        x, y, z = sorted((a, b, c))
        return x > 0 and x * x + y * y == z * z
''', r"""
    assert is_right_triangle(3, 4, 5) is True
    assert is_right_triangle(5, 3, 4) is True
    assert is_right_triangle(1, 1, 1) is False
    assert is_right_triangle(0, 0, 0) is False
    assert is_right_triangle(6, 8, 10) is True
""")

task("geometry", r"""
    Write a Python function `triangle_area(a: tuple[float, float], b: tuple[float, float],
    c: tuple[float, float]) -> float` that returns the area of the triangle with corners a, b
    and c. Points on one line give 0.0.
""", r'''
    def triangle_area(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
        cross = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])
        return abs(cross) / 2
''', r"""
    assert triangle_area((0, 0), (4, 0), (0, 3)) == 6.0
    assert triangle_area((0, 0), (1, 1), (2, 2)) == 0.0
    assert triangle_area((0, 0), (1, 0), (0, 1)) == 0.5
    assert triangle_area((1, 1), (3, 1), (2, 5)) == 4.0
""")

task("geometry", r"""
    Write a Python function `rectangles_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool`
    where each rectangle is (x1, y1, x2, y2) with x1 < x2 and y1 < y2. Return True if the two
    rectangles share a region of positive area; rectangles that only touch along an edge or at
    a corner do not overlap.
""", r'''
    def rectangles_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
''', r"""
    assert rectangles_overlap((0, 0, 2, 2), (1, 1, 3, 3)) is True
    assert rectangles_overlap((0, 0, 1, 1), (1, 0, 2, 1)) is False
    assert rectangles_overlap((0, 0, 1, 1), (2, 2, 3, 3)) is False
    assert rectangles_overlap((0, 0, 10, 10), (2, 2, 3, 3)) is True
""")

task("geometry", r"""
    Write a Python function `orientation(p: tuple[int, int], q: tuple[int, int], r: tuple[int, int]) -> int`
    that returns 1 if walking from p to q to r turns counter-clockwise, -1 if it turns
    clockwise, and 0 if the three points lie on one line.
""", r'''
    def orientation(p: tuple[int, int], q: tuple[int, int], r: tuple[int, int]) -> int:
        cross = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
        return (cross > 0) - (cross < 0)
''', r"""
    assert orientation((0, 0), (1, 0), (0, 1)) == 1
    assert orientation((0, 0), (0, 1), (1, 0)) == -1
    assert orientation((0, 0), (1, 1), (2, 2)) == 0
    assert orientation((1, 1), (3, 1), (2, 5)) == 1
""")

task("geometry", r"""
    Write a Python function `polygon_area(points: list[tuple[float, float]]) -> float` that
    returns the area of the simple polygon whose corners are listed in order (clockwise or
    counter-clockwise), using the shoelace formula. Fewer than 3 points give 0.0.
""", r'''
    def polygon_area(points: list[tuple[float, float]]) -> float:
        if len(points) < 3:
            return 0.0
        twice = 0
        for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]):
            twice += x1 * y2 - x2 * y1
        return abs(twice) / 2
''', r"""
    assert polygon_area([(0, 0), (2, 0), (2, 2), (0, 2)]) == 4.0
    assert polygon_area([(0, 2), (2, 2), (2, 0), (0, 0)]) == 4.0
    assert polygon_area([]) == 0.0
    assert polygon_area([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]) == 3.0
""")

task("geometry", r"""
    Write a Python function `convex_hull(points: list[tuple[int, int]]) -> list[tuple[int, int]]`
    that returns the corners of the convex hull of the points, in counter-clockwise order,
    starting from the smallest point (by x, then y). Points lying on an edge of the hull are not
    corners, and duplicate points count once. With fewer than three distinct points, return the
    distinct points sorted; if all points lie on one line, return its two end points.
""", r'''
    def convex_hull(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
        pts = sorted(set(points))
        if len(pts) <= 2:
            return pts

        def cross(o, a, b):
            return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

        # Andrew's monotone chain: lower hull left to right, upper hull right to left
        lower, upper = [], []
        for p in pts:
            while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
                lower.pop()
            lower.append(p)
        for p in reversed(pts):
            while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
                upper.pop()
            upper.append(p)
        return lower[:-1] + upper[:-1]
''', r"""
    assert convex_hull([(0, 0), (2, 0), (1, 1), (2, 2), (0, 2)]) == [(0, 0), (2, 0), (2, 2), (0, 2)]
    assert convex_hull([]) == []
    assert convex_hull([(1, 1), (1, 1)]) == [(1, 1)]
    assert convex_hull([(0, 0), (1, 0), (2, 0)]) == [(0, 0), (2, 0)]
    assert convex_hull([(0, 0), (4, 0), (4, 4), (0, 4), (2, 2), (2, 0)]) == [(0, 0), (4, 0), (4, 4), (0, 4)]
""")

# ---------------------------------------------------------------------------------------------
# bit manipulation
# ---------------------------------------------------------------------------------------------

task("bits", r"""
    Write a Python function `count_set_bits(n: int) -> int` that returns how many 1 bits the
    binary representation of the non-negative integer `n` has.
""", r'''
    def count_set_bits(n: int) -> int:
        return bin(n).count("1")
''', r"""
    assert count_set_bits(0) == 0
    assert count_set_bits(7) == 3
    assert count_set_bits(8) == 1
    assert count_set_bits(255) == 8
    assert count_set_bits(2 ** 40 - 1) == 40
""")

task("bits", r"""
    Write a Python function `is_power_of_two(n: int) -> bool` that returns True if `n` is a
    power of two (1, 2, 4, 8, ...) and False otherwise, including for zero and negative numbers.
""", r'''
    def is_power_of_two(n: int) -> bool:
        return n > 0 and n & (n - 1) == 0
''', r"""
    assert is_power_of_two(1) is True
    assert is_power_of_two(0) is False
    assert is_power_of_two(64) is True
    assert is_power_of_two(96) is False
    assert is_power_of_two(-8) is False
""")

task("bits", r"""
    Write a Python function `pack_flags(flags: list[bool]) -> int` that returns the integer whose
    bit i (bit 0 being the least significant) is 1 exactly when flags[i] is True.
""", r'''
    def pack_flags(flags: list[bool]) -> int:
        return sum(1 << i for i, flag in enumerate(flags) if flag)
''', r"""
    assert pack_flags([True, False, True]) == 5
    assert pack_flags([]) == 0
    assert pack_flags([False] * 5) == 0
    assert pack_flags([True] * 8) == 255
""")

task("bits", r"""
    Write a Python function `hamming_distance(a: int, b: int) -> int` that returns the number of
    bit positions in which the non-negative integers `a` and `b` differ.
""", r'''
    def hamming_distance(a: int, b: int) -> int:
        return bin(a ^ b).count("1")
''', r"""
    assert hamming_distance(1, 4) == 2
    assert hamming_distance(0, 0) == 0
    assert hamming_distance(7, 0) == 3
    assert hamming_distance(255, 254) == 1
""")

task("bits", r"""
    Write a Python function `set_bit_positions(n: int) -> list[int]` that returns, in ascending
    order, the positions of the 1 bits of the non-negative integer `n`, where position 0 is the
    least significant bit.
""", r'''
    def set_bit_positions(n: int) -> list[int]:
        return [i for i in range(n.bit_length()) if n >> i & 1]
''', r"""
    assert set_bit_positions(0) == []
    assert set_bit_positions(5) == [0, 2]
    assert set_bit_positions(8) == [3]
    assert set_bit_positions(255) == [0, 1, 2, 3, 4, 5, 6, 7]
""")

task("bits", r"""
    Write a Python function `single_number(nums: list[int]) -> int` that returns the one value
    in `nums` that occurs once, given that every other value occurs exactly twice. Use XOR so
    that it runs in linear time and constant extra space.
""", r'''
    def single_number(nums: list[int]) -> int:
        result = 0
        for x in nums:
            result ^= x  # pairs cancel out: x ^ x == 0
        return result
''', r"""
    assert single_number([7, 3, 5, 3, 7]) == 5
    assert single_number([9]) == 9
    assert single_number([-1, 2, 2]) == -1
    assert single_number([0, 1, 1]) == 0
""")

task("bits", r"""
    Write a Python function `to_binary(n: int) -> str` that returns the binary representation of
    the integer `n` without a '0b' prefix; negative numbers get a leading '-'. Zero is '0'.
""", r'''
    def to_binary(n: int) -> str:
        if n == 0:
            return "0"
        sign = "-" if n < 0 else ""
        n = abs(n)
        bits = []
        while n:
            bits.append(str(n & 1))
            n >>= 1
        return sign + "".join(reversed(bits))
''', r"""
    assert to_binary(5) == '101'
    assert to_binary(0) == '0'
    assert to_binary(-6) == '-110'
    assert to_binary(1024) == '10000000000'
""")

task("bits", r"""
    Write a Python function `next_power_of_two(n: int) -> int` that returns the smallest power of
    two that is greater than or equal to `n`. For n <= 1 return 1.
""", r'''
    def next_power_of_two(n: int) -> int:
        if n <= 1:
            return 1
        return 1 << (n - 1).bit_length()
''', r"""
    assert next_power_of_two(0) == 1
    assert next_power_of_two(1) == 1
    assert next_power_of_two(5) == 8
    assert next_power_of_two(16) == 16
    assert next_power_of_two(17) == 32
""")

task("bits", r"""
    Write a Python function `reverse_bits(n: int, width: int) -> int` that treats the
    non-negative integer `n` (less than 2 ** width) as a `width`-bit number and returns the
    number whose bits are those bits in reverse order.
""", r'''
    def reverse_bits(n: int, width: int) -> int:
        result = 0
        for _ in range(width):
            result = (result << 1) | (n & 1)
            n >>= 1
        return result
''', r"""
    assert reverse_bits(1, 4) == 8
    assert reverse_bits(0b1011, 4) == 0b1101
    assert reverse_bits(0, 8) == 0
    assert reverse_bits(6, 3) == 3
    assert reverse_bits(1, 1) == 1
""")

task("bits", r"""
    Write a Python function `gray_code(n: int) -> list[int]` that returns the n-bit reflected
    Gray code sequence: all 2 ** n integers starting from 0, where consecutive numbers differ in
    exactly one bit, the i-th number being i XOR (i >> 1).
""", r'''
    def gray_code(n: int) -> list[int]:
        return [i ^ (i >> 1) for i in range(1 << n)]
''', r"""
    assert gray_code(0) == [0]
    assert gray_code(1) == [0, 1]
    assert gray_code(2) == [0, 1, 3, 2]
    assert gray_code(3) == [0, 1, 3, 2, 6, 7, 5, 4]
""")

# ---------------------------------------------------------------------------------------------
# stacks and queues
# ---------------------------------------------------------------------------------------------

task("stacks_queues", r"""
    Write a Python function `balanced_brackets(s: str) -> bool` that returns True if every
    bracket in `s` among (), [] and {} is closed by the matching bracket in the right order, and
    False otherwise. All other characters are ignored.
""", r'''
    def balanced_brackets(s: str) -> bool:
        pairs = {")": "(", "]": "[", "}": "{"}
        stack = []
        for ch in s:
            if ch in "([{":
                stack.append(ch)
            elif ch in pairs:
                if not stack or stack.pop() != pairs[ch]:
                    return False
        return not stack
''', r"""
    assert balanced_brackets('([]{})') is True
    assert balanced_brackets('([)]') is False
    assert balanced_brackets('') is True
    assert balanced_brackets('(((') is False
    assert balanced_brackets('a(b)c]') is False
    assert balanced_brackets('{x[y](z)}') is True
""")

task("stacks_queues", r"""
    Write a Python function `remove_adjacent_pairs(s: str) -> str` that repeatedly deletes two
    equal characters standing next to each other until no such pair is left, and returns what
    remains. For example 'xyyxz' becomes 'z'.
""", r'''
    def remove_adjacent_pairs(s: str) -> str:
        stack = []
        for ch in s:
            if stack and stack[-1] == ch:
                stack.pop()
            else:
                stack.append(ch)
        return "".join(stack)
''', r"""
    assert remove_adjacent_pairs('xyyxz') == 'z'
    assert remove_adjacent_pairs('') == ''
    assert remove_adjacent_pairs('aa') == ''
    assert remove_adjacent_pairs('abc') == 'abc'
    assert remove_adjacent_pairs('aab') == 'b'
""")

task("stacks_queues", r"""
    Write a Python function `simplify_path(path: str) -> str` that simplifies an absolute
    Unix-style path: '.' means the current directory, '..' the parent (the parent of the root is
    the root), and repeated slashes count as one. Return a path that starts with a single '/',
    has no trailing '/' (unless it is the root itself) and contains no '.' or '..' parts.
""", r'''
    def simplify_path(path: str) -> str:
        parts = []
        for part in path.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part and part != ".":
                parts.append(part)
        return "/" + "/".join(parts)
''', r"""
    assert simplify_path('/a/./b/../c/') == '/a/c'
    assert simplify_path('/../') == '/'
    assert simplify_path('//x//y') == '/x/y'
    assert simplify_path('/') == '/'
""")

task("stacks_queues", r"""
    Write a Python function `eval_rpn(tokens: list[str]) -> int` that evaluates an arithmetic
    expression in reverse Polish notation. Tokens are integers (possibly negative, like '-7') or
    one of the operators '+', '-', '*', '/'; '/' is integer division that truncates toward zero.
    You may assume the expression is valid.
""", r'''
    def eval_rpn(tokens: list[str]) -> int:
        stack = []
        for token in tokens:
            if token not in ("+", "-", "*", "/"):
                stack.append(int(token))
                continue
            b, a = stack.pop(), stack.pop()
            if token == "+":
                stack.append(a + b)
            elif token == "-":
                stack.append(a - b)
            elif token == "*":
                stack.append(a * b)
            else:
                quotient = abs(a) // abs(b)
                stack.append(quotient if (a < 0) == (b < 0) else -quotient)
        return stack[-1]
''', r"""
    assert eval_rpn(['2', '3', '+', '4', '*']) == 20
    assert eval_rpn(['7', '2', '/']) == 3
    assert eval_rpn(['-7', '2', '/']) == -3
    assert eval_rpn(['5']) == 5
    assert eval_rpn(['10', '3', '-', '2', '*']) == 14
""")

task("stacks_queues", r"""
    Write a Python function `next_greater(nums: list[int]) -> list[int]` that returns, for each
    item of `nums`, the first item to its right that is strictly greater, or -1 if there is none.
    Use a stack so that it runs in linear time.
""", r'''
    def next_greater(nums: list[int]) -> list[int]:
        result = [-1] * len(nums)
        waiting = []  # indices whose next greater item is not found yet; their values never increase
        for i, x in enumerate(nums):
            while waiting and nums[waiting[-1]] < x:
                result[waiting.pop()] = x
            waiting.append(i)
        return result
''', r"""
    assert next_greater([2, 1, 3, 2, 5]) == [3, 3, 5, 5, -1]
    assert next_greater([]) == []
    assert next_greater([5, 4, 3]) == [-1, -1, -1]
    assert next_greater([1, 1]) == [-1, -1]
""")

task("stacks_queues", r"""
    Write a Python function `josephus(n: int, k: int) -> int` for people numbered 1 to n standing
    in a circle: counting starts at person 1, every k-th person still standing leaves, and
    counting continues with the next person. Return the number of the last person left
    (n >= 1, k >= 1).
""", r'''
    from collections import deque


    def josephus(n: int, k: int) -> int:
        circle = deque(range(1, n + 1))
        while len(circle) > 1:
            circle.rotate(-(k - 1))  # bring the k-th person to the front
            circle.popleft()
        return circle[0]
''', r"""
    assert josephus(1, 3) == 1
    assert josephus(5, 2) == 3
    assert josephus(7, 3) == 4
    assert josephus(6, 1) == 6
""")

task("stacks_queues", r"""
    Write a Python function `min_stack_results(ops: list[str]) -> list` that runs commands on a
    stack of integers: 'push X' pushes the integer X, 'pop' removes the top item (doing nothing
    on an empty stack), and 'min' records the smallest item currently on the stack, or None if
    it is empty. Return the recorded values in order. Each command must take constant time.
""", r'''
    def min_stack_results(ops: list[str]) -> list:
        stack = []  # (value, smallest value at or below it)
        recorded = []
        for op in ops:
            if op.startswith("push "):
                value = int(op[5:])
                stack.append((value, min(value, stack[-1][1]) if stack else value))
            elif op == "pop":
                if stack:
                    stack.pop()
            elif op == "min":
                recorded.append(stack[-1][1] if stack else None)
        return recorded
''', r"""
    assert min_stack_results(['push 3', 'push 1', 'min', 'pop', 'min']) == [1, 3]
    assert min_stack_results([]) == []
    assert min_stack_results(['min']) == [None]
    assert min_stack_results(['push 5', 'push 5', 'pop', 'min']) == [5]
    assert min_stack_results(['pop', 'push -2', 'min']) == [-2]
""")

task("stacks_queues", r"""
    Write a Python function `sliding_window_max(nums: list[int], k: int) -> list[int]` that
    returns the maximum of every window of `k` consecutive items of `nums` (k >= 1), from left to
    right. If k is larger than the list, return []. Aim for linear time with a deque.
""", r'''
    from collections import deque


    def sliding_window_max(nums: list[int], k: int) -> list[int]:
        result = []
        window = deque()  # indices in the window, their values decreasing
        for i, x in enumerate(nums):
            while window and nums[window[-1]] <= x:
                window.pop()
            window.append(i)
            if window[0] <= i - k:
                window.popleft()
            if i >= k - 1:
                result.append(nums[window[0]])
        return result
''', r"""
    assert sliding_window_max([4, 2, 12, 3, 8, 1], 2) == [4, 12, 12, 8, 8]
    assert sliding_window_max([], 2) == []
    assert sliding_window_max([5], 1) == [5]
    assert sliding_window_max([1, 2], 3) == []
    assert sliding_window_max([9, 8, 7, 6], 2) == [9, 8, 7]
""")

task("stacks_queues", r"""
    Write a Python function `editor_text(ops: list[str]) -> str` that simulates a text editor
    starting from ''. 'type X' appends the string X (which has no spaces); 'undo' reverts the
    most recent typing that has not been undone; 'redo' re-applies the most recently undone
    typing; typing something new forgets everything that could be redone. 'undo' or 'redo' with
    nothing to undo or redo does nothing. Return the final text.
""", r'''
    def editor_text(ops: list[str]) -> str:
        text = ""
        undo, redo = [], []  # texts to go back / forward to
        for op in ops:
            if op.startswith("type "):
                undo.append(text)
                text += op[5:]
                redo.clear()
            elif op == "undo" and undo:
                redo.append(text)
                text = undo.pop()
            elif op == "redo" and redo:
                undo.append(text)
                text = redo.pop()
        return text
''', r"""
    assert editor_text(['type ab', 'type cd', 'undo']) == 'ab'
    assert editor_text(['type a', 'undo', 'redo']) == 'a'
    assert editor_text(['undo', 'redo']) == ''
    assert editor_text(['type a', 'undo', 'type b', 'redo']) == 'b'
    assert editor_text(['type x', 'type y', 'undo', 'undo', 'redo']) == 'x'
""")

task("stacks_queues", r"""
    Write a Python function `decode_repeats(s: str) -> str` that expands an encoded string in
    which 'k[text]' means `text` repeated k times (k a positive decimal number); groups may be
    nested, and characters outside groups are copied as they are. For example '2[a2[b]]'
    becomes 'abbabb'. You may assume the input is well formed.
""", r'''
    def decode_repeats(s: str) -> str:
        stack = []  # (text before the group, repeat count) for each open '['
        current, count = "", 0
        for ch in s:
            if ch.isdigit():
                count = count * 10 + int(ch)
            elif ch == "[":
                stack.append((current, count))
                current, count = "", 0
            elif ch == "]":
                before, times = stack.pop()
                current = before + current * times
            else:
                current += ch
        return current
''', r"""
    assert decode_repeats('2[ab]c') == 'ababc'
    assert decode_repeats('') == ''
    assert decode_repeats('x3[y]') == 'xyyy'
    assert decode_repeats('2[a2[b]]') == 'abbabb'
    assert decode_repeats('10[z]') == 'zzzzzzzzzz'
""")

# ---------------------------------------------------------------------------------------------
# matrices
# ---------------------------------------------------------------------------------------------

task("matrices", r"""
    Write a Python function `identity_matrix(n: int) -> list[list[int]]` that returns the n x n
    identity matrix as a list of rows: 1 on the main diagonal, 0 elsewhere. n = 0 gives [].
""", r'''
    def identity_matrix(n: int) -> list[list[int]]:
        return [[1 if i == j else 0 for j in range(n)] for i in range(n)]
''', r"""
    assert identity_matrix(0) == []
    assert identity_matrix(1) == [[1]]
    assert identity_matrix(3) == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
""")

task("matrices", r"""
    Write a Python function `transpose(m: list[list]) -> list[list]` that returns the transpose
    of the rectangular matrix `m` (a list of rows): row i of the result is column i of `m`. An
    empty matrix gives [].
""", r'''
    def transpose(m: list[list]) -> list[list]:
        return [list(column) for column in zip(*m)]
''', r"""
    assert transpose([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]
    assert transpose([]) == []
    assert transpose([[1]]) == [[1]]
    assert transpose([[1], [2]]) == [[1, 2]]
""")

task("matrices", r"""
    Write a Python function `diagonal_sums(m: list[list[int]]) -> tuple[int, int]` that returns
    (sum of the main diagonal, sum of the anti-diagonal) of the square matrix `m`, where the
    anti-diagonal runs from the top-right corner to the bottom-left. An empty matrix gives (0, 0).
""", r'''
    def diagonal_sums(m: list[list[int]]) -> tuple[int, int]:
        n = len(m)
        return (sum(m[i][i] for i in range(n)), sum(m[i][n - 1 - i] for i in range(n)))
''', r"""
    assert diagonal_sums([[1, 2], [3, 4]]) == (5, 5)
    assert diagonal_sums([[5]]) == (5, 5)
    assert diagonal_sums([]) == (0, 0)
    assert diagonal_sums([[2, 0, 1], [0, 3, 0], [4, 0, 5]]) == (10, 8)
""")

task("matrices", r"""
    Write a Python function `is_symmetric(m: list[list[int]]) -> bool` that returns True if the
    square matrix `m` equals its own transpose, and False otherwise. The empty matrix is
    symmetric.
""", r'''
    def is_symmetric(m: list[list[int]]) -> bool:
        n = len(m)
        return all(m[i][j] == m[j][i] for i in range(n) for j in range(n))
''', r"""
    assert is_symmetric([[1, 2], [2, 1]]) is True
    assert is_symmetric([[1, 2], [3, 1]]) is False
    assert is_symmetric([]) is True
    assert is_symmetric([[7]]) is True
""")

task("matrices", r"""
    Write a Python function `matrix_multiply(a: list[list[int]], b: list[list[int]]) -> list[list[int]]`
    that returns the matrix product of `a` (n x k) and `b` (k x m) as a list of n rows of m
    numbers. You may assume the shapes are compatible.
""", r'''
    def matrix_multiply(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
        columns = list(zip(*b))
        return [[sum(x * y for x, y in zip(row, column)) for column in columns] for row in a]
''', r"""
    assert matrix_multiply([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]
    assert matrix_multiply([[1, 0], [0, 1]], [[9, 8], [7, 6]]) == [[9, 8], [7, 6]]
    assert matrix_multiply([[2, 3]], [[4], [5]]) == [[23]]
    assert matrix_multiply([[1], [2]], [[3, 4]]) == [[3, 4], [6, 8]]
""")

task("matrices", r"""
    Write a Python function `rotate_clockwise(m: list[list]) -> list[list]` that returns the
    rectangular matrix `m` rotated 90 degrees clockwise, as a new list of rows (an r x c matrix
    becomes c x r). An empty matrix gives [].
""", r'''
    def rotate_clockwise(m: list[list]) -> list[list]:
        return [list(row) for row in zip(*m[::-1])]
''', r"""
    assert rotate_clockwise([[1, 2], [3, 4]]) == [[3, 1], [4, 2]]
    assert rotate_clockwise([]) == []
    assert rotate_clockwise([[1, 2, 3]]) == [[1], [2], [3]]
    assert rotate_clockwise([[1], [2], [3]]) == [[3, 2, 1]]
""")

task("matrices", r"""
    Write a Python function `zero_rows_and_columns(m: list[list[int]]) -> list[list[int]]` that
    returns a copy of the matrix `m` in which every row and every column that contains a 0 in
    `m` is filled with zeros. `m` itself must not be modified.
""", r'''
    def zero_rows_and_columns(m: list[list[int]]) -> list[list[int]]:
        zero_rows = {i for i, row in enumerate(m) if 0 in row}
        zero_cols = {j for row in m for j, x in enumerate(row) if x == 0}
        return [[0 if i in zero_rows or j in zero_cols else x for j, x in enumerate(row)]
                for i, row in enumerate(m)]
''', r"""
    assert zero_rows_and_columns([[1, 2], [0, 4]]) == [[0, 2], [0, 0]]
    assert zero_rows_and_columns([[1, 1], [1, 1]]) == [[1, 1], [1, 1]]
    assert zero_rows_and_columns([]) == []
    assert zero_rows_and_columns([[1, 0, 3], [4, 5, 6]]) == [[0, 0, 0], [4, 0, 6]]
    assert (lambda m: zero_rows_and_columns(m) == [[0, 0]] and m == [[0, 1]])([[0, 1]])
""")

task("matrices", r"""
    Write a Python function `spiral_order(m: list[list]) -> list` that returns the items of the
    rectangular matrix `m` in clockwise spiral order: along the top row, down the right column,
    back along the bottom row, up the left column, then the same for the inner part. An empty
    matrix gives [].
""", r'''
    def spiral_order(m: list[list]) -> list:
        result = []
        rows = [list(row) for row in m]
        while rows:
            result.extend(rows.pop(0))
            # turn the rest counter-clockwise so the next edge to walk becomes the top row
            rows = [list(column) for column in zip(*rows)][::-1]
        return result
''', r"""
    assert spiral_order([[1, 2, 3], [4, 5, 6], [7, 8, 9]]) == [1, 2, 3, 6, 9, 8, 7, 4, 5]
    assert spiral_order([]) == []
    assert spiral_order([[1, 2, 3, 4]]) == [1, 2, 3, 4]
    assert spiral_order([[1], [2], [3]]) == [1, 2, 3]
    assert spiral_order([[1, 2], [3, 4], [5, 6]]) == [1, 2, 4, 6, 5, 3]
""")

task("matrices", r"""
    Write a Python function `search_sorted_matrix(m: list[list[int]], target: int) -> bool` that
    returns True if `target` occurs in the matrix `m`, whose rows are each sorted ascending from
    left to right and whose columns are each sorted ascending from top to bottom, and False
    otherwise. Start from the top-right corner so that each step discards a row or a column.
""", r'''
    def search_sorted_matrix(m: list[list[int]], target: int) -> bool:
        if not m or not m[0]:
            return False
        r, c = 0, len(m[0]) - 1
        while r < len(m) and c >= 0:
            if m[r][c] == target:
                return True
            if m[r][c] > target:
                c -= 1  # everything below in this column is larger still
            else:
                r += 1  # everything left in this row is smaller still
        return False
''', r"""
    assert search_sorted_matrix([[1, 4, 7], [2, 5, 8], [3, 6, 9]], 5) is True
    assert search_sorted_matrix([[1, 4, 7], [2, 5, 8], [3, 6, 9]], 10) is False
    assert search_sorted_matrix([], 1) is False
    assert search_sorted_matrix([[1]], 1) is True
    assert search_sorted_matrix([[1, 3], [2, 4]], 0) is False
""")

task("matrices", r"""
    Write a Python function `count_islands(grid: list[str]) -> int` that counts the islands in a
    grid given as equal-length strings, where '#' is land and '.' is water. An island is a group
    of land cells connected horizontally or vertically (not diagonally).
""", r'''
    def count_islands(grid: list[str]) -> int:
        seen = set()
        islands = 0
        for r, row in enumerate(grid):
            for c, cell in enumerate(row):
                if cell != "#" or (r, c) in seen:
                    continue
                islands += 1
                seen.add((r, c))
                todo = [(r, c)]  # flood-fill the new island
                while todo:
                    y, x = todo.pop()
                    for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                        if 0 <= ny < len(grid) and 0 <= nx < len(row) and grid[ny][nx] == "#" and (ny, nx) not in seen:
                            seen.add((ny, nx))
                            todo.append((ny, nx))
        return islands
''', r"""
    assert count_islands(['#..', '.#.', '..#']) == 3
    assert count_islands([]) == 0
    assert count_islands(['##', '##']) == 1
    assert count_islands(['#.#', '###']) == 1
    assert count_islands(['...']) == 0
""")

# ---------------------------------------------------------------------------------------------
# simple classes and data structures (each still exposes a function as its entry point)
# ---------------------------------------------------------------------------------------------

task("classes", r"""
    Write a class `Rectangle` created as Rectangle(width, height) with methods area(),
    perimeter() and is_square(), and a Python function `describe_rectangle(width: int,
    height: int) -> tuple[int, int, bool]` that builds a Rectangle and returns (area, perimeter,
    is_square).
""", r'''
    class Rectangle:
        def __init__(self, width: int, height: int):
            self.width = width
            self.height = height

        def area(self) -> int:
            return self.width * self.height

        def perimeter(self) -> int:
            return 2 * (self.width + self.height)

        def is_square(self) -> bool:
            return self.width == self.height


    def describe_rectangle(width: int, height: int) -> tuple[int, int, bool]:
        rect = Rectangle(width, height)
        return (rect.area(), rect.perimeter(), rect.is_square())
''', r"""
    assert describe_rectangle(3, 4) == (12, 14, False)
    assert describe_rectangle(5, 5) == (25, 20, True)
    assert describe_rectangle(0, 2) == (0, 4, False)
    assert describe_rectangle(1, 10) == (10, 22, False)
""")

task("classes", r"""
    Write a class `BankAccount` whose balance starts at 0, with deposit(amount) and
    withdraw(amount) methods, where withdraw returns False and leaves the balance unchanged if
    the amount is larger than the balance, and True otherwise. Then write a Python function
    `final_balance(ops: list[tuple[str, int]]) -> int` that applies operations such as
    ('deposit', 100) or ('withdraw', 30) to a new account, in order, and returns the final
    balance.
""", r'''
    class BankAccount:
        def __init__(self):
            self.balance = 0

        def deposit(self, amount: int) -> None:
            self.balance += amount

        def withdraw(self, amount: int) -> bool:
            if amount > self.balance:
                return False
            self.balance -= amount
            return True


    def final_balance(ops: list[tuple[str, int]]) -> int:
        account = BankAccount()
        for action, amount in ops:
            if action == "deposit":
                account.deposit(amount)
            elif action == "withdraw":
                account.withdraw(amount)
        return account.balance
''', r"""
    assert final_balance([('deposit', 100), ('withdraw', 30)]) == 70
    assert final_balance([]) == 0
    assert final_balance([('withdraw', 5)]) == 0
    assert final_balance([('deposit', 10), ('withdraw', 10), ('withdraw', 1)]) == 0
    assert final_balance([('deposit', 5), ('withdraw', 9), ('deposit', 1)]) == 6
""")

task("classes", r"""
    Write a class `Inventory` that tracks item quantities, with add(item, qty) and
    remove(item, qty), where remove returns False and changes nothing if fewer than qty are in
    stock. Then write a Python function `inventory_after(ops: list[tuple[str, str, int]]) ->
    dict[str, int]` that applies operations such as ('add', 'apple', 3) or ('remove', 'apple',
    1) to an empty inventory and returns the stock as a dict, leaving out items with quantity 0.
""", r'''
    class Inventory:
        def __init__(self):
            self.stock = {}

        def add(self, item: str, qty: int) -> None:
            self.stock[item] = self.stock.get(item, 0) + qty

        def remove(self, item: str, qty: int) -> bool:
            if self.stock.get(item, 0) < qty:
                return False
            self.stock[item] -= qty
            return True


    def inventory_after(ops: list[tuple[str, str, int]]) -> dict[str, int]:
        inventory = Inventory()
        for action, item, qty in ops:
            if action == "add":
                inventory.add(item, qty)
            elif action == "remove":
                inventory.remove(item, qty)
        return {item: qty for item, qty in inventory.stock.items() if qty}
''', r"""
    assert inventory_after([('add', 'apple', 3), ('remove', 'apple', 1)]) == {'apple': 2}
    assert inventory_after([]) == {}
    assert inventory_after([('add', 'x', 1), ('remove', 'x', 1)]) == {}
    assert inventory_after([('remove', 'y', 1)]) == {}
    assert inventory_after([('add', 'a', 1), ('remove', 'a', 2), ('add', 'b', 2)]) == {'a': 1, 'b': 2}
""")

task("classes", r"""
    Write a class `ListNode` with attributes `value` and `next` (a singly linked list node) and a
    Python function `reverse_linked_values(values: list) -> list` that builds a linked list of
    ListNode objects holding `values` in order, reverses it in place by relinking the nodes, and
    returns the values of the reversed list as a Python list.
""", r'''
    class ListNode:
        def __init__(self, value, next=None):
            self.value = value
            self.next = next


    def reverse_linked_values(values: list) -> list:
        head = None
        for value in reversed(values):
            head = ListNode(value, head)
        prev = None
        while head is not None:
            following = head.next
            head.next = prev
            prev, head = head, following
        out = []
        while prev is not None:
            out.append(prev.value)
            prev = prev.next
        return out
''', r"""
    assert reverse_linked_values([1, 2, 3]) == [3, 2, 1]
    assert reverse_linked_values([]) == []
    assert reverse_linked_values([7]) == [7]
    assert reverse_linked_values(['a', 'b']) == ['b', 'a']
""")

task("classes", r"""
    Write a class `TwoStackQueue`, a first-in first-out queue built from two Python lists used
    as stacks, with enqueue(x) and dequeue() (which returns None when the queue is empty). Then
    write a Python function `queue_results(ops: list[str]) -> list` that runs commands 'enq X'
    (X an integer) and 'deq' on a new queue and returns the values returned by the 'deq'
    commands, in order.
""", r'''
    class TwoStackQueue:
        def __init__(self):
            self.inbox = []
            self.outbox = []

        def enqueue(self, x) -> None:
            self.inbox.append(x)

        def dequeue(self):
            if not self.outbox:
                # reversing the inbox puts the oldest item on top of the outbox
                while self.inbox:
                    self.outbox.append(self.inbox.pop())
            return self.outbox.pop() if self.outbox else None


    def queue_results(ops: list[str]) -> list:
        queue = TwoStackQueue()
        out = []
        for op in ops:
            if op.startswith("enq "):
                queue.enqueue(int(op[4:]))
            elif op == "deq":
                out.append(queue.dequeue())
        return out
''', r"""
    assert queue_results(['enq 1', 'enq 2', 'deq', 'enq 3', 'deq', 'deq', 'deq']) == [1, 2, 3, None]
    assert queue_results([]) == []
    assert queue_results(['deq']) == [None]
    assert queue_results(['enq 5', 'deq', 'enq 6', 'deq']) == [5, 6]
""")

task("classes", r"""
    Write a class `Fraction` that stores a fraction in lowest terms with a positive denominator
    (created as Fraction(numerator, denominator), denominator non-zero) and supports `+`. Then
    write a Python function `add_fractions(a: tuple[int, int], b: tuple[int, int]) ->
    tuple[int, int]` that adds the fractions given as (numerator, denominator) pairs and returns
    the sum as a reduced (numerator, denominator) pair with a positive denominator; zero is (0, 1).
""", r'''
    from math import gcd


    class Fraction:
        def __init__(self, num: int, den: int):
            if den < 0:
                num, den = -num, -den
            g = gcd(num, den)  # den > 0, so g >= 1
            self.num = num // g
            self.den = den // g

        def __add__(self, other: "Fraction") -> "Fraction":
            return Fraction(self.num * other.den + other.num * self.den, self.den * other.den)


    def add_fractions(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        total = Fraction(*a) + Fraction(*b)
        return (total.num, total.den)
''', r"""
    assert add_fractions((1, 2), (1, 3)) == (5, 6)
    assert add_fractions((1, 2), (1, 2)) == (1, 1)
    assert add_fractions((1, -2), (1, 2)) == (0, 1)
    assert add_fractions((2, 4), (0, 5)) == (1, 2)
    assert add_fractions((-1, 3), (-1, 6)) == (-1, 2)
""")

task("classes", r"""
    Write a class `DisjointSet` over the elements 0 to n - 1 with find(x) and union(a, b)
    (union-find). Then write a Python function `count_groups(n: int, pairs: list[tuple[int, int]])
    -> int` that returns how many connected groups the elements 0 to n - 1 form when each pair
    (a, b) connects a and b.
""", r'''
    class DisjointSet:
        def __init__(self, n: int):
            self.parent = list(range(n))

        def find(self, x: int) -> int:
            while self.parent[x] != x:
                self.parent[x] = self.parent[self.parent[x]]  # path halving keeps trees shallow
                x = self.parent[x]
            return x

        def union(self, a: int, b: int) -> bool:
            root_a, root_b = self.find(a), self.find(b)
            if root_a == root_b:
                return False
            self.parent[root_a] = root_b
            return True


    def count_groups(n: int, pairs: list[tuple[int, int]]) -> int:
        groups = DisjointSet(n)
        return n - sum(groups.union(a, b) for a, b in pairs)
''', r"""
    assert count_groups(5, [(0, 1), (1, 2), (3, 4)]) == 2
    assert count_groups(3, []) == 3
    assert count_groups(0, []) == 0
    assert count_groups(4, [(0, 1), (1, 0), (2, 3), (0, 3)]) == 1
""")

task("classes", r"""
    Write a class `Trie` (prefix tree) with insert(word) and count_prefix(prefix), where
    count_prefix returns how many inserted words start with `prefix` (words inserted twice
    count twice). Then write a Python function `count_with_prefix(words: list[str],
    prefix: str) -> int` that inserts all `words` into a new Trie and returns
    count_prefix(prefix). Every word starts with the empty prefix.
""", r'''
    class Trie:
        def __init__(self):
            self.children = {}
            self.count = 0  # words inserted through this node

        def insert(self, word: str) -> None:
            node = self
            node.count += 1
            for ch in word:
                node = node.children.setdefault(ch, Trie())
                node.count += 1

        def count_prefix(self, prefix: str) -> int:
            node = self
            for ch in prefix:
                if ch not in node.children:
                    return 0
                node = node.children[ch]
            return node.count


    def count_with_prefix(words: list[str], prefix: str) -> int:
        trie = Trie()
        for word in words:
            trie.insert(word)
        return trie.count_prefix(prefix)
''', r"""
    assert count_with_prefix(['apple', 'app', 'apt', 'bat'], 'ap') == 3
    assert count_with_prefix([], 'a') == 0
    assert count_with_prefix(['a'], '') == 1
    assert count_with_prefix(['car', 'cart', 'car'], 'car') == 3
    assert count_with_prefix(['x'], 'xy') == 0
""")

task("classes", r"""
    Write a class `BST`, a binary search tree of distinct numbers, with insert(value) (inserting
    a value already present does nothing) and height() (0 for an empty tree, 1 for a single
    node). Then write a Python function `bst_height(values: list[int]) -> int` that inserts the
    values into a new BST in the given order and returns its height.
""", r'''
    class BST:
        def __init__(self):
            self.root = None  # nodes are [value, left, right]

        def insert(self, value: int) -> None:
            if self.root is None:
                self.root = [value, None, None]
                return
            node = self.root
            while node[0] != value:
                side = 1 if value < node[0] else 2
                if node[side] is None:
                    node[side] = [value, None, None]
                    return
                node = node[side]

        def height(self) -> int:
            def depth(node) -> int:
                return 0 if node is None else 1 + max(depth(node[1]), depth(node[2]))

            return depth(self.root)


    def bst_height(values: list[int]) -> int:
        tree = BST()
        for value in values:
            tree.insert(value)
        return tree.height()
''', r"""
    assert bst_height([2, 1, 3]) == 2
    assert bst_height([1, 2, 3, 4]) == 4
    assert bst_height([]) == 0
    assert bst_height([5, 5, 5]) == 1
    assert bst_height([4, 2, 6, 1, 3, 5, 7]) == 3
""")

task("classes", r"""
    Write a class `Graph` for an undirected graph with add_edge(a, b) and distance(start, goal),
    which returns the fewest edges on a path from start to goal using breadth-first search, 0
    when start == goal and -1 when goal cannot be reached. Then write a Python function
    `bfs_distance(edges: list[tuple[str, str]], start: str, goal: str) -> int` that builds a
    Graph from `edges` and returns distance(start, goal).
""", r'''
    from collections import deque


    class Graph:
        def __init__(self):
            self.neighbours = {}

        def add_edge(self, a: str, b: str) -> None:
            self.neighbours.setdefault(a, set()).add(b)
            self.neighbours.setdefault(b, set()).add(a)

        def distance(self, start: str, goal: str) -> int:
            seen = {start}
            queue = deque([(start, 0)])
            while queue:
                node, dist = queue.popleft()
                if node == goal:
                    return dist
                for nxt in self.neighbours.get(node, ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        queue.append((nxt, dist + 1))
            return -1


    def bfs_distance(edges: list[tuple[str, str]], start: str, goal: str) -> int:
        graph = Graph()
        for a, b in edges:
            graph.add_edge(a, b)
        return graph.distance(start, goal)
''', r"""
    assert bfs_distance([('a', 'b'), ('b', 'c')], 'a', 'c') == 2
    assert bfs_distance([], 'a', 'a') == 0
    assert bfs_distance([('a', 'b')], 'a', 'z') == -1
    assert bfs_distance([('a', 'b'), ('b', 'c'), ('a', 'c')], 'a', 'c') == 1
    assert bfs_distance([('x', 'y'), ('p', 'q')], 'x', 'q') == -1
""")

task("classes", r"""
    Write a class `LRUCache` created as LRUCache(capacity) with get(key), which returns the
    stored value or -1 and marks the key as most recently used, and put(key, value), which
    stores or updates the value, marks the key as most recently used, and then evicts the least
    recently used key if more than `capacity` keys are stored. Then write a Python function
    `lru_results(capacity: int, ops: list[tuple]) -> list` that applies operations ('put', key,
    value) and ('get', key) to a new cache and returns the results of the gets, in order.
""", r'''
    from collections import OrderedDict


    class LRUCache:
        def __init__(self, capacity: int):
            self.capacity = capacity
            self.items = OrderedDict()  # least recently used first

        def get(self, key):
            if key not in self.items:
                return -1
            self.items.move_to_end(key)
            return self.items[key]

        def put(self, key, value) -> None:
            self.items[key] = value
            self.items.move_to_end(key)
            if len(self.items) > self.capacity:
                self.items.popitem(last=False)


    def lru_results(capacity: int, ops: list[tuple]) -> list:
        cache = LRUCache(capacity)
        results = []
        for op in ops:
            if op[0] == "put":
                cache.put(op[1], op[2])
            else:
                results.append(cache.get(op[1]))
        return results
''', r"""
    assert lru_results(2, [('put', 1, 1), ('put', 2, 2), ('get', 1), ('put', 3, 3), ('get', 2), ('get', 3)]) == [1, -1, 3]
    assert lru_results(1, [('get', 5)]) == [-1]
    assert lru_results(2, []) == []
    assert lru_results(1, [('put', 'a', 1), ('put', 'a', 2), ('get', 'a')]) == [2]
    assert lru_results(2, [('put', 1, 1), ('put', 2, 2), ('put', 1, 10), ('put', 3, 3), ('get', 1), ('get', 2)]) == [10, -1]
""")

# ---------------------------------------------------------------------------------------------
# generators and iterators
# ---------------------------------------------------------------------------------------------

task("generators", r"""
    Write a Python generator function `countdown(n: int)` that yields n, n - 1, ..., 1 and then
    stops. For n <= 0 it yields nothing.
""", r'''
    def countdown(n: int):
        while n > 0:
            yield n
            n -= 1
''', r"""
    assert list(countdown(3)) == [3, 2, 1]
    assert list(countdown(0)) == []
    assert list(countdown(-2)) == []
    assert next(countdown(5)) == 5
""")

task("generators", r"""
    Write a Python generator function `fib_gen()` that yields the Fibonacci numbers 0, 1, 1, 2,
    3, 5, ... forever (each number is the sum of the two before it).
""", r'''
    def fib_gen():
        a, b = 0, 1
        while True:
            yield a
            a, b = b, a + b
''', r"""
    assert [x for _, x in zip(range(8), fib_gen())] == [0, 1, 1, 2, 3, 5, 8, 13]
    assert next(fib_gen()) == 0
    assert [x for _, x in zip(range(31), fib_gen())][-1] == 832040
""")

task("generators", r"""
    Write a Python generator function `running_average(iterable)` that yields, after each number
    it reads from `iterable`, the mean of all numbers read so far, as a float.
""", r'''
    def running_average(iterable):
        total = 0
        for count, x in enumerate(iterable, 1):
            total += x
            yield total / count
''', r"""
    assert list(running_average([2, 4, 6])) == [2.0, 3.0, 4.0]
    assert list(running_average([])) == []
    assert list(running_average([5])) == [5.0]
    assert list(running_average(iter([1, 2]))) == [1.0, 1.5]
""")

task("generators", r"""
    Write a Python generator function `collatz_sequence(n: int)` that, for n >= 1, yields n and
    then each following value of the Collatz process (n // 2 if n is even, 3 * n + 1 if n is
    odd), ending with 1.
""", r'''
    def collatz_sequence(n: int):
        while n != 1:
            yield n
            n = n // 2 if n % 2 == 0 else 3 * n + 1
        yield 1
''', r"""
    assert list(collatz_sequence(6)) == [6, 3, 10, 5, 16, 8, 4, 2, 1]
    assert list(collatz_sequence(1)) == [1]
    assert next(collatz_sequence(7)) == 7
    assert len(list(collatz_sequence(27))) == 112
""")

task("generators", r"""
    Write a Python generator function `sliding_pairs(iterable)` that yields each pair of
    neighbouring items (previous, current) of `iterable` as a tuple. An iterable with fewer than
    two items yields nothing. It must work on any iterable, including one-shot iterators.
""", r'''
    def sliding_pairs(iterable):
        first = True
        previous = None
        for item in iterable:
            if not first:
                yield (previous, item)
            previous, first = item, False
''', r"""
    assert list(sliding_pairs([1, 2, 3])) == [(1, 2), (2, 3)]
    assert list(sliding_pairs([])) == []
    assert list(sliding_pairs([1])) == []
    assert list(sliding_pairs('abcd')) == [('a', 'b'), ('b', 'c'), ('c', 'd')]
    assert list(sliding_pairs(iter([5, 6]))) == [(5, 6)]
""")

task("generators", r"""
    Write a Python generator function `chunked(iterable, size: int)` that yields the items of
    `iterable` in tuples of `size` consecutive items (size >= 1); the last tuple may be shorter.
    It must work on any iterable, including one-shot iterators, without building a full list.
""", r'''
    def chunked(iterable, size: int):
        chunk = []
        for item in iterable:
            chunk.append(item)
            if len(chunk) == size:
                yield tuple(chunk)
                chunk = []
        if chunk:
            yield tuple(chunk)
''', r"""
    assert list(chunked([1, 2, 3, 4, 5], 2)) == [(1, 2), (3, 4), (5,)]
    assert list(chunked([], 3)) == []
    assert list(chunked('abc', 3)) == [('a', 'b', 'c')]
    assert list(chunked(iter(range(4)), 3)) == [(0, 1, 2), (3,)]
""")

task("generators", r"""
    Write a Python generator function `dedupe_consecutive(iterable)` that yields the items of
    `iterable` but skips any item equal to the item just before it, so 'aaabccba' yields
    a, b, c, b, a.
""", r'''
    def dedupe_consecutive(iterable):
        missing = object()  # equal to nothing a caller can pass
        previous = missing
        for item in iterable:
            if previous is missing or item != previous:
                yield item
            previous = item
''', r"""
    assert list(dedupe_consecutive('aaabccba')) == ['a', 'b', 'c', 'b', 'a']
    assert list(dedupe_consecutive([])) == []
    assert list(dedupe_consecutive([1, 1, 1])) == [1]
    assert list(dedupe_consecutive([None, None, 1])) == [None, 1]
""")

task("generators", r"""
    Write a Python generator function `take_while_increasing(iterable)` that yields items of
    `iterable` for as long as each item is strictly greater than the one before it, and stops
    (without yielding it) at the first item that is not. The first item is always yielded.
""", r'''
    def take_while_increasing(iterable):
        previous = None
        for i, item in enumerate(iterable):
            if i > 0 and item <= previous:
                return
            yield item
            previous = item
''', r"""
    assert list(take_while_increasing([1, 3, 5, 4, 6])) == [1, 3, 5]
    assert list(take_while_increasing([])) == []
    assert list(take_while_increasing([2, 2])) == [2]
    assert list(take_while_increasing([1, 2, 3])) == [1, 2, 3]
    assert list(take_while_increasing(iter([0, -1]))) == [0]
""")

task("generators", r"""
    Write a Python generator function `primes_gen()` that yields the prime numbers 2, 3, 5, 7,
    11, ... in increasing order, forever.
""", r'''
    def primes_gen():
        found = []
        n = 2
        while True:
            if all(n % p for p in found if p * p <= n):
                found.append(n)
                yield n
            n += 1
''', r"""
    assert [p for _, p in zip(range(6), primes_gen())] == [2, 3, 5, 7, 11, 13]
    assert next(primes_gen()) == 2
    assert [p for _, p in zip(range(25), primes_gen())][-1] == 97
""")

task("generators", r"""
    Write a Python generator function `round_robin(*iterables)` that yields one item from each
    iterable in turn, cycling through them, and skips iterables once they are exhausted, until
    all are exhausted. For example round_robin('abc', 'd', 'ef') yields a, d, e, b, f, c.
""", r'''
    def round_robin(*iterables):
        iterators = [iter(it) for it in iterables]
        done = object()
        while iterators:
            alive = []
            for it in iterators:
                item = next(it, done)
                if item is not done:
                    yield item
                    alive.append(it)
            iterators = alive
''', r"""
    assert list(round_robin('abc', 'd', 'ef')) == ['a', 'd', 'e', 'b', 'f', 'c']
    assert list(round_robin()) == []
    assert list(round_robin([1, 2], [])) == [1, 2]
    assert list(round_robin([1], [2], [3])) == [1, 2, 3]
""")

# ---------------------------------------------------------------------------------------------
# error handling: bad input raises ValueError (tests written `raises: fn, args`)
# ---------------------------------------------------------------------------------------------

task("errors", r"""
    Write a Python function `safe_divide(a: float, b: float) -> float` that returns a / b, and
    raises ValueError when b is 0.
""", r'''
    def safe_divide(a: float, b: float) -> float:
        if b == 0:
            raise ValueError("cannot divide by zero")
        return a / b
''', r"""
    assert safe_divide(6, 3) == 2.0
    assert safe_divide(1, 4) == 0.25
    assert safe_divide(-3, 2) == -1.5
    raises: safe_divide, 1, 0
""")

task("errors", r"""
    Write a Python function `mean(nums: list[float]) -> float` that returns the arithmetic mean
    of `nums`, and raises ValueError when the list is empty.
""", r'''
    def mean(nums: list[float]) -> float:
        if not nums:
            raise ValueError("mean of an empty list")
        return sum(nums) / len(nums)
''', r"""
    assert mean([1, 2, 3]) == 2.0
    assert mean([5]) == 5.0
    assert mean([-1, 1]) == 0.0
    raises: mean, []
""")

task("errors", r"""
    Write a Python function `floor_sqrt(n: int) -> int` that returns the largest integer r with
    r * r <= n, exactly even for very large n, and raises ValueError when n is negative.
""", r'''
    import math


    def floor_sqrt(n: int) -> int:
        if n < 0:
            raise ValueError(f"no real square root of {n}")
        return math.isqrt(n)
''', r"""
    assert floor_sqrt(16) == 4
    assert floor_sqrt(17) == 4
    assert floor_sqrt(0) == 0
    assert floor_sqrt(10 ** 30) == 10 ** 15
    raises: floor_sqrt, -1
""")

task("errors", r"""
    Write a Python function `checked_index(items: list, i: int)` that returns items[i] when
    0 <= i < len(items), and raises ValueError for any other index (negative indexes are not
    allowed).
""", r'''
    def checked_index(items: list, i: int):
        if not 0 <= i < len(items):
            raise ValueError(f"index {i} is out of range for a list of length {len(items)}")
        return items[i]
''', r"""
    assert checked_index(['a', 'b'], 1) == 'b'
    assert checked_index([1], 0) == 1
    raises: checked_index, [1], 1
    raises: checked_index, [1], -1
    raises: checked_index, [], 0
""")

task("errors", r"""
    Write a Python function `parse_age(s: str) -> int` that converts a string holding a whole
    number of years, possibly surrounded by whitespace, into an int. Raise ValueError if the
    stripped string is not made only of digits (so signs are rejected) or if the age is above
    150.
""", r'''
    def parse_age(s: str) -> int:
        text = s.strip()
        if not text.isdigit():
            raise ValueError(f"not a whole number of years: {s!r}")
        age = int(text)
        if age > 150:
            raise ValueError(f"age out of range: {age}")
        return age
''', r"""
    assert parse_age('42') == 42
    assert parse_age(' 7 ') == 7
    raises: parse_age, 'abc'
    raises: parse_age, '-1'
    raises: parse_age, '151'
    raises: parse_age, ''
""")

task("errors", r"""
    Write a Python function `parse_bool(s: str) -> bool` that returns True for 'true', 'yes',
    '1' or 'on' and False for 'false', 'no', '0' or 'off', ignoring case and surrounding
    whitespace, and raises ValueError for anything else.
""", r'''
    def parse_bool(s: str) -> bool:
        word = s.strip().lower()
        if word in ("true", "yes", "1", "on"):
            return True
        if word in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"not a boolean: {s!r}")
''', r"""
    assert parse_bool('Yes') is True
    assert parse_bool(' off ') is False
    assert parse_bool('1') is True
    raises: parse_bool, 'maybe'
    raises: parse_bool, ''
""")

task("errors", r"""
    Write a Python function `validate_password(pw: str) -> bool` that returns True if `pw` is at
    least 8 characters long and contains at least one digit and at least one uppercase letter,
    and otherwise raises ValueError.
""", r'''
    def validate_password(pw: str) -> bool:
        if len(pw) < 8:
            raise ValueError("password must have at least 8 characters")
        if not any(ch.isdigit() for ch in pw):
            raise ValueError("password must contain a digit")
        if not any(ch.isupper() for ch in pw):
            raise ValueError("password must contain an uppercase letter")
        return True
''', r"""
    assert validate_password('Secret123') is True
    raises: validate_password, 'short1A'
    raises: validate_password, 'nouppercase1'
    raises: validate_password, 'NoDigitsHere'
""")

task("errors", r"""
    Write a Python function `parse_rgb(s: str) -> tuple[int, int, int]` that parses a colour
    written '#RRGGBB' (six hexadecimal digits, either case) into a (red, green, blue) tuple of
    ints, and raises ValueError for any other string.
""", r'''
    import re


    def parse_rgb(s: str) -> tuple[int, int, int]:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", s):
            raise ValueError(f"not a #RRGGBB colour: {s!r}")
        return (int(s[1:3], 16), int(s[3:5], 16), int(s[5:7], 16))
''', r"""
    assert parse_rgb('#ff8000') == (255, 128, 0)
    assert parse_rgb('#000000') == (0, 0, 0)
    assert parse_rgb('#ABCDEF') == (171, 205, 239)
    raises: parse_rgb, 'ff8000'
    raises: parse_rgb, '#ff80'
    raises: parse_rgb, '#gg0000'
""")

task("errors", r"""
    Write a Python function `parse_int_list(s: str) -> list[int]` that parses comma-separated
    integers such as '1, 2,-3' into [1, 2, -3]. Each item, once stripped of whitespace, must be
    an optional '-' followed by decimal digits; otherwise (including an empty item) raise
    ValueError. An empty or all-whitespace string gives [].
""", r'''
    import re


    def parse_int_list(s: str) -> list[int]:
        if not s.strip():
            return []
        out = []
        for item in s.split(","):
            item = item.strip()
            # int() alone would also accept '1_000' and '+5'; the format asked for is stricter
            if not re.fullmatch(r"-?[0-9]+", item):
                raise ValueError(f"not an integer: {item!r}")
            out.append(int(item))
        return out
''', r"""
    assert parse_int_list('1, 2,3') == [1, 2, 3]
    assert parse_int_list('') == []
    assert parse_int_list(' -4 ') == [-4]
    raises: parse_int_list, '1,,2'
    raises: parse_int_list, '1,x'
    raises: parse_int_list, '1_000'
""")

task("errors", r"""
    Write a Python function `roman_to_int(s: str) -> int` that converts a Roman numeral made of
    the uppercase letters I, V, X, L, C, D and M into an int, where a smaller value written
    before a larger one is subtracted (so 'IV' is 4 and 'MCMXCIV' is 1994). Raise ValueError if
    `s` is empty or contains any other character.
""", r'''
    def roman_to_int(s: str) -> int:
        values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
        if not s or any(ch not in values for ch in s):
            raise ValueError(f"not a Roman numeral: {s!r}")
        total = 0
        for i, ch in enumerate(s):
            value = values[ch]
            if i + 1 < len(s) and values[s[i + 1]] > value:
                total -= value
            else:
                total += value
        return total
''', r"""
    assert roman_to_int('XIV') == 14
    assert roman_to_int('MCMXCIV') == 1994
    assert roman_to_int('I') == 1
    raises: roman_to_int, ''
    raises: roman_to_int, 'ABC'
    raises: roman_to_int, 'xiv'
""")


# ---------------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------------

def build_rows() -> list[dict]:
    """All tasks, round-robin over topics in first-seen order, numbered pytasks/0..N-1."""
    by_topic: dict[str, list[dict]] = {}
    for source in _SOURCES:
        by_topic.setdefault(source["topic"], []).append(source)
    queues = list(by_topic.values())
    ordered = [queue[i] for i in range(max(map(len, queues))) for queue in queues if i < len(queue)]
    return [{**source, "task_id": f"pytasks/{i}", "entry_point": entry_point(source["solution"])}
            for i, source in enumerate(ordered)]


def failures(solution: str, tests: list[str]) -> list[str]:
    """Tests that fail after `solution`, each run in its own fresh namespace."""
    failed = []
    for test in tests:
        namespace: dict = {"__name__": "__pytask__"}
        try:
            exec(compile(solution, "<solution>", "exec"), namespace)
            exec(compile(test, "<test>", "exec"), namespace)
        except Exception as e:  # a failing test is data here, not a crash
            failed.append(f"{test}  ->  {type(e).__name__}: {e}")
    return failed


def check(row: dict) -> float:
    """Seconds the reference took on its tests; exits naming the task if anything is wrong."""
    start = time.perf_counter()
    broken = failures(row["solution"], row["tests"])
    seconds = time.perf_counter() - start
    stub = f"def {row['entry_point']}(*args, **kwargs):\n    return None\n"
    if not 3 <= len(row["tests"]) <= 6:
        broken.append(f"has {len(row['tests'])} tests, expected 3 to 6")
    if f"`{row['entry_point']}(" not in row["instruction"]:
        broken.append(f"instruction does not name `{row['entry_point']}(...)`")
    if not failures(stub, row["tests"]):
        broken.append("a stub returning None passes every test")
    if broken:
        sys.exit(f"{row['task_id']} ({row['entry_point']}):\n  " + "\n  ".join(broken))
    return seconds


def main() -> None:
    from loralab.io import write_jsonl

    rows = build_rows()
    seconds = {row["task_id"]: check(row) for row in rows}
    names = [row["entry_point"] for row in rows]
    if len(set(names)) != len(names):
        sys.exit(f"duplicate entry points: {sorted({n for n in names if names.count(n) > 1})}")
    write_jsonl(OUT, rows)
    topics = {row["topic"] for row in rows}
    slowest = max(seconds, key=seconds.get)
    print(f"wrote {len(rows)} tasks over {len(topics)} topics to {OUT.relative_to(ROOT)}; "
          f"slowest reference {slowest} took {seconds[slowest] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
