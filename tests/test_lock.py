"""The write lock beside a database file (corral_lib/db/lock.py): its
reentrant count, and what another process sees of it."""

import multiprocessing
import os
import time

import pytest
from filelock import FileLock, Timeout

from corral_lib.db.lock import WriteLock


def _try_lock(path, queue):
    """In another process: can the lock file be taken right now?"""
    try:
        FileLock(path).acquire(timeout=0.2)
    except Timeout:
        queue.put("busy")
    else:
        queue.put("free")


def _other_process_sees(path) -> str:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_try_lock, args=(str(path), queue))
    child.start()
    answer = queue.get(timeout=30)
    child.join(timeout=30)
    return answer


def test_the_lock_is_let_go_only_by_the_outermost_release(tmp_path):
    lock = WriteLock(tmp_path / "pipeline.db")
    assert not lock.held
    with lock:
        with lock:
            assert lock.held
        # The inner release keeps the file locked for other processes.
        assert lock.held
        assert _other_process_sees(lock.path) == "busy"
    assert not lock.held
    assert _other_process_sees(lock.path) == "free"
    # A release too many does not unlock anything it does not hold.
    lock.release()
    assert not lock.held


def _child_of_fork(lock, queue):
    queue.put(lock.held)
    lock.acquire()
    queue.put(lock.held)
    lock.release()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_inherit_the_parents_hold(tmp_path):
    lock = WriteLock(tmp_path / "pipeline.db")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_of_fork, args=(lock, queue))
    with lock:
        child.start()
        # The child sees no hold of its own, and waits for the parent's.
        assert queue.get(timeout=30) is False
        time.sleep(0.5)
        assert queue.empty()
    assert queue.get(timeout=30) is True
    child.join(timeout=30)
    assert child.exitcode == 0
