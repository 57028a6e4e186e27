"""WER / CER come from jiwer (corpus rates: edits summed over all pairs / reference length summed);
predict's rates normalise case and punctuation first. Known values worked out by hand."""

import pytest

from mgtrainer.driver.metrics import error_rates


@pytest.mark.parametrize("refs,hyps,wer,cer", [
    (["the cat sat"], ["the cat sat"], 0.0, 0.0),
    (["the cat sat"], ["the cat sit"], 1 / 3, 1 / 11),           # one substituted word; one of 11 characters
    (["a b c d", "e f"], ["a x c", "e f g"], 3 / 6, 5 / 10),    # sub + del (" d"), then an insertion (" g")
    (["yes"], [""], 1.0, 1.0),                                   # nothing answered: every word deleted
    (["no"], ["no no no"], 2.0, 3.0),                            # insertions push WER over 1
])
def test_error_rates_known_values(refs, hyps, wer, cer):
    rates = error_rates(refs, hyps)
    assert rates["wer"] == pytest.approx(wer) and rates["cer"] == pytest.approx(cer)


def test_predict_rates_normalise_and_skip_rows_without_reference():
    from mgtrainer.serve.media_rows import error_rates as row_rates

    rows = [{"reference": "Hello, World.", "prediction": "hello world"}, {"reference": "Go home", "prediction": "go"},
            {"prediction": "ignored"}]
    assert row_rates(rows) == {"wer": pytest.approx(1 / 4), "cer": pytest.approx(5 / 18)}
    assert row_rates([{"prediction": "x"}]) is None
