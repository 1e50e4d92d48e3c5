"""Scaffolding that `make run`, bench and the tests share, and that never ships.

Child processes (:mod:`.processes`), the bronze job's local harness and read-back
(:mod:`.bronze`), bronze rows written straight to the lake (:mod:`.bronze_rows`), the
DQ fault-matrix cycle (:mod:`.dq_matrix`) and the maintenance-during-appends scenario
(:mod:`.maintenance_scenario`). Bench and tests import it; bench never imports tests.
"""
