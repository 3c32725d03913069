"""find_root: the innermost real error, not the wrappers and follow-ups printed after it."""

from __future__ import annotations

from byom.triage import explain_text, find_root

CHILD_FAILED = """\
[rank0]: Traceback (most recent call last):
[rank0]:   File "/workspace/train.py", line 88, in <module>
[rank0]:     trainer.train()
[rank0]: ValueError: Something nobody catalogued happened in the collator
E1130 10:11:05.102000 140 torch/distributed/elastic/multiprocessing/api.py:869] failed (exitcode: 1) local_rank: 0 (pid: 141)
Traceback (most recent call last):
  File "/usr/local/bin/torchrun", line 8, in <module>
    sys.exit(main())
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
train.py FAILED
  exitcode  : 1 (pid: 141)
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
============================================================
"""


def test_child_failed_error_is_skipped_for_the_childs_error() -> None:
    root = find_root(CHILD_FAILED)
    assert root.line == "ValueError: Something nobody catalogued happened in the collator"
    explanation = explain_text(CHILD_FAILED)
    assert explanation.category == "unknown" and explanation.confidence == "unknown"
    assert explanation.evidence == "ValueError: Something nobody catalogued happened in the collator"


def test_nccl_follow_ups_on_other_ranks_do_not_hide_the_oom() -> None:
    text = """\
[rank1]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 4.00 GiB. GPU 1 has a total capacity of 79.15 GiB
[rank0]:[E1130 ProcessGroupNCCL.cpp:1785] [Rank 0] Some NCCL operations have failed or timed out. Due to the asynchronous nature of CUDA kernels, subsequent GPU operations might run on corrupted/incomplete data.
[rank0]: Traceback (most recent call last):
[rank0]:   File "/workspace/train.py", line 99, in <module>
[rank0]: torch.distributed.DistBackendError: NCCL communicator was aborted on rank 0.
"""
    explanation = explain_text(text)
    assert explanation.pattern_id == "cuda-out-of-memory"
    assert explanation.evidence is not None and explanation.evidence.startswith("torch.OutOfMemoryError")


def test_repeated_warnings_are_not_the_root() -> None:
    warning = (
        "/usr/lib/python3.11/site-packages/torch/utils/checkpoint.py:91: UserWarning: the error of your ways\n"
        "  warnings.warn(\n"
    )
    text = (
        warning * 200 + "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'messages'\n"
    )
    assert find_root(text).line == "KeyError: 'messages'"
    assert explain_text(text).pattern_id == "dataset-missing-column"


def test_a_chain_is_read_innermost_first() -> None:
    text = """\
Traceback (most recent call last):
  File "a.py", line 1, in <module>
OSError: inner cause of it all

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "b.py", line 2, in <module>
RuntimeError: outer wrapper message
"""
    root = find_root(text)
    assert [b.first_line for b in root.chain] == [
        "OSError: inner cause of it all",
        "RuntimeError: outer wrapper message",
    ]


def test_the_last_chain_is_the_fatal_one() -> None:
    text = """\
Traceback (most recent call last):
  File "a.py", line 1, in <module>
KeyError: 'an old caught error, logged and ignored'
step 10 loss 1.2
Traceback (most recent call last):
  File "b.py", line 2, in <module>
RuntimeError: the one that killed it
"""
    assert find_root(text).line == "RuntimeError: the one that killed it"


def test_an_unmatched_fatal_error_is_not_explained_by_an_older_warning_line() -> None:
    text = (
        "Token indices sequence length is longer than the specified maximum sequence length for this model "
        "(5000 > 2048). Running this sequence through the model will result in indexing errors\n"
        'Traceback (most recent call last):\n  File "x.py", line 3\nZeroDivisionError: division by zero\n'
    )
    explanation = explain_text(text)
    assert explanation.category == "unknown" and explanation.pattern_id is None
    assert explanation.evidence == "ZeroDivisionError: division by zero"


def test_a_quoted_exception_in_an_event_message_counts() -> None:
    root = find_root(
        "Job failed during training: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate"
    )
    assert root.chain and root.chain[0].exc_type == "torch.OutOfMemoryError"


def test_an_api_error_body_without_a_traceback() -> None:
    body = '{"error": {"message": "Invalid API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}'
    assert explain_text(body).pattern_id == "together-auth"


def test_stage_named_by_the_engine_is_kept() -> None:
    explanation = explain_text(
        "job_error: Job failed during saving: OSError: [Errno 28] No space left on device"
    )
    assert explanation.pattern_id == "disk-full" and explanation.stage == "saving"


def test_the_stack_is_the_fatal_chains_own() -> None:
    """A retried download's traceback earlier in the log lends its frames to nothing that fails later."""
    log = (
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/site-packages/urllib3/connectionpool.py", line 536, in _make_request\n'
        "urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool(host='huggingface.co'): Read timed out.\n"
        "Retrying in 1s [Retry 1/5].\n"
        "Traceback (most recent call last):\n"
        '  File "/home/me/train.py", line 40, in <module>\n'
        "FrobnicationError: the widget sprocket wobbled\n"
    )
    root = find_root(log)
    assert root.stack == ["/home/me/train.py", "FrobnicationError"]
    assert explain_text(log).category == "unknown"
