use super::*;
use crate::checks;

#[test]
fn exit_code_precedence() {
    let s = Settings {
        exit_code_on_error: 5,
        ..Settings::default()
    };
    // (outputs written, checks failed, failures recorded) -> code
    let cases = [
        ((true, false, false), 0),
        ((true, false, true), 5),
        ((true, true, false), checks::EXIT_CHECK_FAILED),
        ((true, true, true), checks::EXIT_CHECK_FAILED),
        ((false, true, true), output::EXIT_OUTPUT_FAILED),
        ((false, false, false), output::EXIT_OUTPUT_FAILED),
    ];
    for ((ok, checks_failed, failed), want) in cases {
        assert_eq!(
            exit_code(ok, checks_failed, failed, &s),
            want,
            "{ok} {checks_failed} {failed}"
        );
    }
    assert_eq!(checks::EXIT_CHECK_FAILED, 3);
}
