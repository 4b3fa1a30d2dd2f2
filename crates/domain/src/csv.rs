//! CSV exports that are safe to open in a spreadsheet: the one cell writer of every export.

/// Characters that make a spreadsheet run a cell as a formula when they start it.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One text cell (RFC 4180): always quoted, so that a separator inside it never splits it for a
/// reader that honours quotes; and no part of it can start a formula, for one that does not.
/// Excel in much of Europe splits on `;` and honours a quote only at the start of what it takes
/// for a field, so a name like `x;=1+2` gave it a cell `=1+2`. A `'` goes before a formula
/// character that starts the cell or follows a `;` or `,`. Names and summaries are written by
/// users and integrators.
pub fn text_cell(out: &mut String, cell: &str) {
    out.push('"');
    let mut at_start = true;
    for c in cell.chars() {
        if at_start && FORMULA_START.contains(&c) {
            out.push('\'');
        }
        if c == '"' {
            out.push('"');
        }
        out.push(c);
        at_start = c == ';' || c == ',';
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str) -> String {
        let mut out = String::new();
        text_cell(&mut out, text);
        out
    }

    #[test]
    fn text_cells_are_quoted_and_never_start_a_formula() {
        assert_eq!(cell("plain"), "\"plain\"");
        assert_eq!(cell(""), "\"\"");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(formula).starts_with("\"'"), "{formula:?}");
        }
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        // Split on `;` or `,` by a reader that ignores quotes, no piece starts a formula.
        assert_eq!(cell("x;=1+2"), "\"x;'=1+2\"");
        assert_eq!(cell("a,-1;@b"), "\"a,'-1;'@b\"");
        for piece in cell("x;=1+2,+3;-4,@5").split([';', ',']) {
            assert!(!piece.trim_start_matches('"').starts_with(FORMULA_START), "{piece:?}");
        }
    }
}
