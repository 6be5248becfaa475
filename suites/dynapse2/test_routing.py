"""The router on the device under test: random SRAM/CAM configurations and events, every delivered event
checked exactly against the routing model, across cores and chips (docs/dynapse2.md#routing)."""
import hil.experiment


def test_routing_is_exact(d2_backend, d2_require_mode, results_store):
    d2_require_mode("routing")
    r = hil.experiment.run("dynapse2.routing", d2_backend, store=results_store, configs=2)
    assert r.metric("wrong_deliveries").value == 0 and r.metric("misordered_deliveries").value == 0
    assert r.metric("deliveries").value > 10_000     # the random configurations do deliver
    assert r.verdict.passed
