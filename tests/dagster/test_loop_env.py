"""A deployment sets what it tests through ACTP_LOOP_<FIELD> variables (compose, Helm, the code servers):
values parse as the fields' types, and a typo or a refused value stops loading with the variable's name."""

import pytest

from resources.loop import LoopSettings, loop_from_env


def test_variables_set_fields_by_their_types():
    loop = loop_from_env({"ACTP_LOOP_TOPIC": "haircare", "ACTP_LOOP_HOOK_PATTERNS": "2",
                          "ACTP_LOOP_TARGETS": '["instagram:main", "tiktok:brand"]',
                          "ACTP_LOOP_SCORING_CREDIBLE_MASS": "0.9", "PATH": "/bin", "ACTP_HOME": "/x"})
    assert loop.topic == "haircare" and loop.hook_patterns == 2 and loop.scoring_credible_mass == 0.9
    assert loop.targets == ["instagram:main", "tiktok:brand"]
    assert loop_from_env({}).model_dump() == LoopSettings().model_dump()  # nothing set: the defaults
    # compose passes an unset ${ACTP_LOOP_TOPIC:-} as "": empty is unset, not an empty topic
    assert loop_from_env({"ACTP_LOOP_TOPIC": "", "ACTP_LOOP_TARGETS": ""}).model_dump() == LoopSettings().model_dump()


def test_a_typo_or_a_refused_value_names_the_variable():
    with pytest.raises(ValueError, match="ACTP_LOOP_HOOK_PATTERN: LoopSettings has no field 'hook_pattern'"):
        loop_from_env({"ACTP_LOOP_HOOK_PATTERN": "2"})
    with pytest.raises(ValueError, match="ACTP_LOOP_ANGLES"):
        loop_from_env({"ACTP_LOOP_ANGLES": "many"})
    with pytest.raises(ValueError, match="ACTP_LOOP_LANDING_URL"):
        loop_from_env({"ACTP_LOOP_LANDING_URL": "javascript:alert(1)"})
