"""The README's guarantees, each with the tests that prove it.

GUARANTEES maps the bold title of every promise under the README's "Guarantees" heading to tests
("module::function"). The meta-test below fails when a promise has no test listed, when a listed
test does not exist, or when the table names a promise the README no longer makes. The tests
after it cover promises that no other module tested.
"""

import importlib
import re
import subprocess
import sys

import numpy as np
import pytest

from rnncli import modelfile
from rnncli.tagger import Tagger

from conftest import ROOT

GUARANTEES = {
    "Errors are one line": [
        "test_robustness::test_unreadable_corpora_stop_training",  # missing, empty, binary, non-UTF-8
        "test_robustness::test_malformed_sentences_are_skipped_with_a_count_or_fatal_with_strict",  # file:line
        "test_robustness::test_model_truncated_at_every_kind_of_offset_is_refused",  # damaged model
        "test_robustness::test_missing_array_is_refused",
        "test_robustness::test_metadata_of_the_wrong_type_is_one_line",
        "test_robustness::test_bad_options_are_usage_errors_before_any_work",  # status 2
        "test_cli::test_errors_are_one_line_with_status_1",
        "test_robustness::test_sigint_keeps_the_old_model_and_saves_a_checkpoint",  # status 130
        "test_hostile::test_sigterm_during_training_saves_a_checkpoint_and_leaves_the_output",  # status 143
        "test_robustness::test_a_file_that_fails_while_being_read_is_named",  # a bad disk
        "test_robustness::test_an_output_that_cannot_be_written_is_found_before_training",
        "test_hostile::test_an_error_about_a_model_named_by_the_environment_says_so",
        "test_hostile3::test_sighup_and_sigquit_during_training_save_a_checkpoint_as_sigterm_does",  # 129, 131
    ],
    "Names are shown safely": [
        "test_hostile::test_file_names_with_control_characters_are_quoted_in_messages",
        "test_hostile::test_a_name_that_is_not_utf8_is_shown_with_its_bytes_escaped",
        "test_hostile::test_inspect_quotes_a_corpus_name_with_control_characters",
    ],
    "Nothing is lost in silence": [
        "test_hostile::test_a_worker_that_dies_ends_the_output_after_whole_chunks_with_one_error",
        "test_hostile::test_kill_9_on_a_tagging_worker_is_an_error_not_a_closed_pipe",
        "test_robustness::test_closed_stdout_ends_quietly_like_a_unix_filter",  # 141: the reader went away
        "test_hostile3::test_a_standard_output_that_fails_is_one_line_and_status_1_for_every_command",
        "test_hostile3::test_an_error_that_cannot_be_written_still_ends_with_its_status",
        "test_hostile3::test_a_non_blocking_pipe_with_a_slow_reader_gets_every_line",
        "test_hostile3::test_a_table_view_into_a_non_blocking_pipe_is_written_whole",
        "test_hostile3::test_ctrl_c_while_tagging_into_a_pipe_ends_on_a_whole_line",
        "test_hostile3::test_a_closed_pipe_ends_a_table_view_with_status_141",
        "test_hostile3::test_every_table_view_ends_a_closed_pipe_as_other_commands_do",
        "test_hostile4::test_a_non_blocking_stdin_is_waited_for_not_taken_for_its_end",
        "test_hostile4::test_a_closed_stdin_is_an_error_not_an_empty_input",
    ],
    "Model files are never half-written": [
        "test_modelfile::test_write_replaces_atomically_and_leaves_no_temporary_file",
        "test_modelfile::test_failed_write_keeps_the_previous_file",  # a full disk, named as such
        "test_hostile::test_a_signal_while_the_model_is_written_leaves_the_old_file_and_no_temporary",
        "test_hostile::test_a_write_killed_outright_leaves_a_temporary_that_the_next_write_removes",
        "test_cli::test_a_picture_that_cannot_be_written_leaves_the_old_one",  # --svg
        "test_cli::test_svg_terminal_is_the_same_view_as_a_picture",  # no temporary file left behind
        "test_hostile3::test_a_model_rnncli_would_refuse_never_replaces_a_good_one",  # read back before the rename
        "test_hostile4::test_training_never_replaces_a_file_that_is_not_a_model",  # -o, --checkpoint
    ],
    "Model files never run code, and cannot exhaust the loader": [
        "test_modelfile::test_object_arrays_are_refused_not_unpickled",
        "test_hostile::test_a_zip_bomb_member_the_metadata_never_names_is_never_unpacked",
        "test_modelfile::test_misshapen_array_is_refused",  # shape against the metadata
        "test_lexicon::test_a_damaged_table_is_one_line",  # the lexicon's table: types, order, indices
        "test_robustness::test_member_that_is_not_an_array_is_refused",
        "test_hostile::test_an_array_header_declaring_more_than_2_64_elements_is_one_line",
        "test_guarantees::test_arrays_holding_nan_or_infinity_are_refused",
        "test_lazy_load::test_a_nan_in_a_column_a_sentence_uses_is_reported_naming_the_table",  # mapped tables
        "test_lazy_load::test_a_flipped_byte_in_a_mapped_table_is_caught_by_its_checksum",
        "test_lazy_load::test_damaged_files_are_refused_by_load_or_verify_when_mapped",
        "test_hostile::test_metadata_built_to_crash_the_parser_is_one_line",  # deep nesting, huge numbers
        "test_hostile::test_a_zip_bomb_where_an_array_belongs_is_refused_before_it_is_unpacked",
        "test_hostile::test_a_tag_that_is_not_one_printable_word_is_refused_on_load",
        "test_hostile::test_a_model_that_is_not_a_regular_file_is_refused_without_blocking",
        "test_hostile::test_inspect_shows_a_huge_metadata_string_shortened",
        "test_hostile::test_a_checkpoint_with_a_damaged_record_is_one_line",
        "test_hostile::test_a_checkpoint_array_of_the_wrong_kind_is_one_line",
        "test_hostile::test_a_checkpoint_of_another_version_is_refused_saying_so",
        "test_hostile3::test_a_checkpoint_holding_nan_is_refused_and_the_model_is_kept",
        "test_robustness::test_loader_fuzz_mutations_load_the_same_or_are_refused",  # the 300 copies
    ],
    "Interrupted training resumes exactly": [
        "test_robustness::test_sigint_keeps_the_old_model_and_saves_a_checkpoint",
        "test_hostile::test_sigterm_during_training_saves_a_checkpoint_and_leaves_the_output",
        "test_hostile::test_a_signal_while_the_model_is_written_leaves_the_old_file_and_no_temporary",
        "test_robustness::test_resume_ends_with_the_same_arrays_as_a_run_never_interrupted",
        "test_robustness::test_divergence_is_reported_with_epoch_and_batch",
        "test_robustness::test_divergence_keeps_the_best_model_so_far",
        "test_robustness::test_a_loss_blown_up_but_still_a_number_is_divergence_too",
        "test_hostile3::test_sighup_and_sigquit_during_training_save_a_checkpoint_as_sigterm_does",
        "test_hostile3::test_a_model_that_cannot_be_written_leaves_a_checkpoint_that_resume_writes",
    ],
    "Same seed, same model on one machine; the same tags on any": [
        "test_train::test_same_seed_same_arrays_to_the_bit",
        "test_train::test_adversarial_training_learns_and_is_reproducible",
        "test_cli::test_the_shipped_tutorial_model_is_what_the_build_script_makes",  # within rounding
        "test_english::test_the_lean_tagging_path_gives_the_full_forward_pass_tags_on_every_dev_token",
        "test_docs::test_shown_output_is_what_the_command_prints",  # numbers as numbers
        "test_guarantees::test_a_line_gets_its_tags_alone_or_in_a_batch",
    ],
    "A well-behaved filter": [
        "test_robustness::test_blank_and_whitespace_lines_stay_blank",
        "test_robustness::test_any_unicode_and_control_characters_round_trip",
        "test_guarantees::test_tagging_reads_a_bounded_stretch_ahead_of_what_it_has_written",  # flat memory
        "test_robustness::test_invalid_utf8_on_stdin_names_the_line",
        "test_hostile::test_binary_input_to_tag_is_refused_naming_the_file_and_line",  # /dev/zero
        "test_hostile::test_a_nul_byte_in_text_to_tag_is_refused_after_the_lines_before_it",
        "test_hostile::test_a_line_over_the_limit_is_refused_after_everything_before_it",
        "test_hostile::test_a_line_of_exactly_the_limit_is_read",
        "test_robustness::test_arguments_that_are_not_utf8_are_refused",
        "test_robustness::test_closed_stdout_ends_quietly_like_a_unix_filter",
        "test_hostile3::test_a_tag_holding_a_slash_is_refused_for_slash_output_and_written_in_the_others",
        "test_hostile3::test_eval_of_rnncli_s_own_slash_output_reads_back_what_was_written",
    ],
    "Any terminal, any locale": [
        "test_hostile3::test_input_and_output_are_utf8_whatever_the_locale",
        "test_hostile3::test_a_terminal_too_narrow_gets_tables_of_a_minimum_width",
        "test_hostile3::test_training_progress_on_a_terminal_too_narrow_is_still_shown",
    ],
    "Numbers are numbers": [
        "test_hostile3::test_weights_too_large_to_compute_with_are_one_line",
        "test_hostile3::test_scores_far_apart_give_probabilities_and_valid_json",
        "test_hostile3::test_a_result_that_is_not_finite_is_never_written_as_json",
    ],
    "The Python API checks its input": [
        "test_hostile3::test_tokens_that_are_not_str_are_a_type_error_naming_sentence_and_position",
        "test_hostile3::test_lines_that_are_neither_str_nor_bytes_are_a_type_error",
        "test_hostile::test_tag_lines_refuses_one_string_for_many_lines",
    ],
    "No cliff on a busy machine": [
        "test_robustness::test_every_command_uses_one_blas_thread_unless_told",
    ],
    "What training skips, it says": [
        "test_robustness::test_malformed_sentences_are_skipped_with_a_count_or_fatal_with_strict",
        "test_robustness::test_only_malformed_sentences_is_an_error_after_the_warning",
        "test_robustness::test_dev_tags_never_seen_in_training_are_reported_as_unlearnable",
        "test_train::test_dev_tags_never_seen_in_training_are_reported",
        "test_hostile3::test_a_tag_no_model_may_hold_is_refused_by_training_naming_file_and_line",
    ],
}


def readme_guarantees() -> list[str]:
    """The bold titles of the list under the README's "Guarantees" heading."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Guarantees\n(.*?)(?=^## )", readme, flags=re.M | re.S)
    assert section, "the README has no Guarantees section"
    return [title.rstrip(".,") for title in re.findall(r"^- \*\*(.+?)\*\*", section.group(1), flags=re.M)]


def test_every_guarantee_names_tests_that_exist():
    titles = readme_guarantees()
    assert len(titles) >= 10
    assert [t for t in titles if not GUARANTEES.get(t)] == [], "a guarantee with no test listed"
    assert [t for t in GUARANTEES if t not in titles] == [], "a table entry for no guarantee in the README"
    for title, tests in GUARANTEES.items():
        for name in tests:
            module, _, function = name.partition("::")
            assert function.startswith("test_") and callable(getattr(importlib.import_module(module), function,
                                                                         None)), f"{title}: no test {name}"


# -- promises no other module tested -------------------------------------------------------------

@pytest.mark.parametrize("paced", [False, True], ids=["file", "pipe"])
@pytest.mark.parametrize("jobs", [1, 2])
def test_tagging_reads_a_bounded_stretch_ahead_of_what_it_has_written(tutorial_model, jobs, paced):
    """Memory stays flat however long the input: at each write, the lines read but not yet
    written are bounded by a few chunks, not by the length of the input. Input that can pause
    is read by a thread of its own, at most two chunks ahead, in chunks of up to two."""
    from rnncli.stream import tag_stream

    line, chunk_chars, total = "I eat apple and they fish in the river", 4000, 20_000
    per_chunk = chunk_chars // (len(line) + 1) + 1
    read = 0

    def lines():
        nonlocal read
        for n in range(1, total + 1):
            read += 1
            yield "in.txt", n, line

    class Output:
        def __init__(self) -> None:
            self.written, self.ahead = 0, []

        def write(self, text: str) -> None:
            self.written += text.count("\n")
            self.ahead.append(read - self.written)

        def flush(self) -> None:
            pass

    out = Output()
    tag_stream(Tagger.load(tutorial_model), lines(), out, chunk_chars=chunk_chars, jobs=jobs, paced=paced)
    assert out.written == total and len(out.ahead) > 10
    bound = (2 * jobs + 1) * 2 * per_chunk + 2 * per_chunk if paced else (2 * jobs + 1) * per_chunk
    assert max(out.ahead) <= bound < total / 5


@pytest.mark.parametrize("dtype, value", [(np.float32, np.nan), (np.float32, -np.inf), (np.float16, np.inf)])
def test_arrays_holding_nan_or_infinity_are_refused(tutorial_model, tmp_path, dtype, value):
    arrays, meta = modelfile.load(tutorial_model)
    arrays = {name: a.astype(dtype) for name, a in arrays.items()}
    arrays["W"][3, 5] = value
    path = tmp_path / "nan.npz"
    modelfile.save(path, arrays, meta)
    r = subprocess.run([sys.executable, "-m", "rnncli", "tag", "I eat apple", "--model", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"rnncli: error: {path}: array W holds NaN or infinite values\n"


def test_a_line_gets_its_tags_alone_or_in_a_batch(tutorial_model):
    """A batch sums in another order than one sentence alone: the same tags, probabilities equal
    to rounding (both sides computed here, on one machine)."""
    from conftest import SAMPLES
    from rnncli.corpus import read_corpus

    tagger = Tagger.load(tutorial_model)
    sentences = [s.words for s in read_corpus(SAMPLES / "tutorial.txt")]
    together = tagger.tag(sentences, top=2)
    for sentence, batched in zip(sentences, together):
        alone = tagger.tag([sentence], top=2)[0]
        for (a, pa), (b, pb) in ((x[0], y[0]) for x, y in zip(alone, batched)):
            assert abs(pa - pb) <= 1e-5
        # The tag itself, unless its first two are as close as rounding (a tie a CPU may break either way)
        assert all(x[0][0] == y[0][0] for x, y in zip(alone, batched) if x[0][1] - x[1][1] > 1e-5)
