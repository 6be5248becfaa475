"""The board acceptance specification on the device under test: it must pass.

With ``--backend board --board TCPIP::...`` this is a board's acceptance run
inside pytest; the certificate is written under the test's tmp_path.
"""
import json

from hil.acceptance import default_spec_path, load_spec, run_acceptance, write_certificate


def test_device_passes_acceptance(backend, require_mode, results_store, tmp_path):
    spec = load_spec(default_spec_path())
    for mode in spec.modes:
        require_mode(mode)
    acceptance = run_acceptance(backend, spec, store=results_store)
    paths = write_certificate(acceptance, tmp_path / "certificate", plots=False)
    failed = "; ".join(f"{j.key}={j.metric.value:.4g} (limit {j.metric.comparison} {j.metric.limit}) {j.error}"
                       for j in acceptance.failed)
    assert acceptance.passed, f"{acceptance.identity.serial} fails {spec.label}: {failed} (certificate {paths.html})"
    assert json.loads(paths.json.read_text())["board"]["serial"] == backend.info().serial
