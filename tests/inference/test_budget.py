from qira.inference import Target
from qira.inference._budget import TokenLedger


def test_usage_is_recorded_and_survives_a_restart(tmp_path):
    clock = [1_800_000_000.0]
    ledger = TokenLedger(tmp_path / "inference.db", daily_budget=1000, clock=lambda: clock[0])
    ledger.record(Target.CLOUD, 300, 200)
    ledger.record(Target.LOCAL, 5000, 5000)  # local tokens are free
    assert ledger.cloud_tokens_left() == 500
    ledger.close()
    again = TokenLedger(tmp_path / "inference.db", daily_budget=1000, clock=lambda: clock[0])
    assert again.cloud_tokens_left() == 500
    clock[0] += 86_400  # the next day starts with a full budget
    assert again.cloud_tokens_left() == 1000
    again.close()


def test_zero_budget_means_no_limit(tmp_path):
    ledger = TokenLedger(tmp_path / "inference.db", daily_budget=0)
    ledger.record(Target.CLOUD, 10**9, 0)
    assert ledger.cloud_tokens_left() is None
    ledger.close()
