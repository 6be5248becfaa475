"""Board acceptance: run a versioned specification's experiments on one board,
judge every metric against the specification and write a certificate.

>>> from hil.acceptance import load_spec, run_acceptance, write_certificate
>>> spec = load_spec("specs/bss2-acceptance-v1.toml")
>>> acceptance = run_acceptance(backend, spec, store=ResultStore())
>>> write_certificate(acceptance, "certificates/EMU-0001")   # certificate.html/.json, junit.xml

``hil accept`` is the command line of the same (docs/acceptance.md).
"""
from .certificate import CertificatePaths, certificate_document, write_certificate
from .runner import Acceptance, BoardIdentity, ExperimentRun, JudgedMetric, board_identity, run_acceptance
from .spec import AcceptanceSpec, ExperimentPlan, MetricLimit, SpecError, default_spec_path, load_spec, parse_spec

__all__ = ["Acceptance", "AcceptanceSpec", "BoardIdentity", "CertificatePaths", "ExperimentPlan", "ExperimentRun",
           "JudgedMetric", "MetricLimit", "SpecError", "board_identity", "certificate_document",
           "default_spec_path", "load_spec", "parse_spec", "run_acceptance", "write_certificate"]
