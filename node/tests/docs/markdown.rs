//! The command blocks and inline commands of a Markdown document, with their doctest
//! annotations.
//!
//! A fenced `sh` block must be preceded by an annotation comment (invisible when rendered):
//! `<!-- doctest: run [on=M1,M2] [serve=PORT] [expect="text"]… [same] [timeout=SECS] -->`
//! runs it, on machines `M1, M2` (lines under a `# on alpha and bravo` comment run on those
//! instead), `serve` runs it in the background until the node's RPC on `PORT` answers, each
//! `expect` must be in its output, and `same` wants the same output from every machine.
//! `<!-- doctest: skip covered=FILE -->` leaves it to the test `FILE` (its lines are still
//! checked). A block without an annotation is an error.

/// What to do with a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Run it.
    Run,
    /// Leave it to another test file.
    Skip { covered: String },
}

/// A fenced `sh` block.
#[derive(Debug, Clone)]
pub struct Block {
    /// `file:line` of its opening fence.
    pub at: String,
    /// Run or skip.
    pub mode: Mode,
    /// Machines it runs on by default.
    pub on: Vec<String>,
    /// Run in the background until this RPC port answers.
    pub serve: Option<u16>,
    /// Texts its output must contain.
    pub expect: Vec<String>,
    /// Every machine must print the same.
    pub same: bool,
    /// How long one of its scripts may take, in seconds.
    pub timeout: Option<u64>,
    /// Its lines, indentation removed.
    pub lines: Vec<String>,
}

/// An inline code span that is a `phalanx …` command, with where it is.
#[derive(Debug, Clone)]
pub struct Inline {
    /// `file:line`.
    pub at: String,
    /// The span's text.
    pub text: String,
}

/// Parses `key=value` pairs; values may be double-quoted (`\"` inside).
fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(_) = chars.peek() else { break };
        let mut key = String::new();
        while let Some(c) = chars
            .peek()
            .copied()
            .filter(|c| *c != '=' && !c.is_whitespace())
        {
            key.push(c);
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' if chars.peek() == Some(&'"') => value.push(chars.next().unwrap()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.peek().copied().filter(|c| !c.is_whitespace()) {
                    value.push(c);
                    chars.next();
                }
            }
        }
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("bad annotation near {key:?}"));
        }
        out.push((key, value));
    }
    Ok(out)
}

fn annotation(comment: &str, at: &str, default_on: &[String]) -> Result<Block, String> {
    let body = comment.trim();
    let (mode_word, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    let mut block = Block {
        at: at.to_string(),
        mode: Mode::Run,
        on: default_on.to_vec(),
        serve: None,
        expect: Vec::new(),
        same: false,
        timeout: None,
        lines: Vec::new(),
    };
    let mut covered = None;
    for (k, v) in pairs(rest).map_err(|e| format!("{at}: {e}"))? {
        match k.as_str() {
            "on" => block.on = v.split(',').map(str::to_string).collect(),
            "serve" => block.serve = Some(v.parse().map_err(|_| format!("{at}: serve={v}"))?),
            "expect" => block.expect.push(v),
            "same" => block.same = true,
            "timeout" => block.timeout = Some(v.parse().map_err(|_| format!("{at}: timeout={v}"))?),
            "covered" => covered = Some(v),
            _ => return Err(format!("{at}: unknown doctest key {k}")),
        }
    }
    block.mode = match (mode_word, covered) {
        ("run", None) if block.serve.is_some() && (!block.expect.is_empty() || block.same) => {
            return Err(format!("{at}: a served block has no output to check"));
        }
        ("run", None) => Mode::Run,
        ("skip", Some(covered)) => Mode::Skip { covered },
        ("skip", None) => return Err(format!("{at}: a skipped block names the test covering it")),
        _ => return Err(format!("{at}: doctest mode must be run or skip")),
    };
    Ok(block)
}

/// The `sh` blocks and inline `phalanx` commands of `text` (named `file`). `default_on` is
/// where an annotated block runs when it names no machine.
pub fn parse(
    file: &str,
    text: &str,
    default_on: &[String],
) -> Result<(Vec<Block>, Vec<Inline>), String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut inline = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            let indent = line.len() - trimmed.len();
            let fence = i;
            let at = format!("{file}:{}", i + 1);
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                body.push(lines[i].get(indent..).unwrap_or("").to_string());
                i += 1;
            }
            i += 1;
            if info.trim() != "sh" {
                continue;
            }
            let comment = (0..fence)
                .rev()
                .map(|j| lines[j].trim())
                .find(|l| !l.is_empty())
                .and_then(|l| l.strip_prefix("<!-- doctest:"))
                .and_then(|l| l.strip_suffix("-->"))
                .ok_or_else(|| format!("{at}: an sh block without a <!-- doctest: … --> line"))?;
            let mut block = annotation(comment, &at, default_on)?;
            block.lines = body;
            blocks.push(block);
            continue;
        }
        for span in line.split('`').skip(1).step_by(2) {
            if span.starts_with("phalanx ") {
                inline.push(Inline {
                    at: format!("{file}:{}", i + 1),
                    text: span.to_string(),
                });
            }
        }
        i += 1;
    }
    Ok((blocks, inline))
}

/// A block's logical lines: a trailing `\` joins the next.
pub fn logical_lines(block: &Block) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in &block.lines {
        match line.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                out.push(std::mem::take(&mut pending));
            }
        }
    }
    if !pending.is_empty() {
        return Err(format!(
            "{}: the last line continues into nothing",
            block.at
        ));
    }
    Ok(out)
}

/// A block's logical lines, each with the machines it runs on: a `# on alpha and bravo` (or
/// `# on alpha, bravo`) comment line switches machines for the lines after it.
pub fn sections(block: &Block, machines: &[&str]) -> Result<Vec<(Vec<String>, String)>, String> {
    let mut out: Vec<(Vec<String>, String)> = Vec::new();
    let mut on = block.on.clone();
    for logical in logical_lines(block)? {
        if let Some(names) = on_comment(&logical, machines) {
            on = names?;
            continue;
        }
        if on.is_empty() {
            return Err(format!("{}: no machine for {logical:?}", block.at));
        }
        out.push((on.clone(), logical));
    }
    Ok(out)
}

/// `Some(names)` if `line` is a `# on …` comment naming machines.
fn on_comment(line: &str, machines: &[&str]) -> Option<Result<Vec<String>, String>> {
    let rest = line.trim().strip_prefix("# on ")?;
    let first = rest.split([' ', ',', '(', ':']).next()?;
    if !machines.contains(&first) {
        return None;
    }
    let names_part = rest.split(['(', ':']).next().unwrap_or(rest);
    let names: Vec<String> = names_part
        .replace(" and ", ",")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    Some(
        match names.iter().find(|n| !machines.contains(&n.as_str())) {
            Some(bad) => Err(format!("{line:?}: unknown machine {bad}")),
            None => Ok(names),
        },
    )
}

/// Groups consecutive section lines on the same machines into scripts, in order.
pub fn scripts(sections: Vec<(Vec<String>, String)>) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for (on, line) in sections {
        match out.last_mut() {
            Some((last_on, lines)) if *last_on == on => lines.push(line),
            _ => out.push((on, vec![line])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_and_sections() {
        let doc = "x\n<!-- doctest: run on=a expect=\"say \\\"hi\\\"\" -->\n\n  ```sh\n  echo 1 \\\n    2\n  # on b and c\n  echo 3\n  ```\nuse `phalanx status --rpc URL` here\n";
        let (blocks, inline) = parse("d.md", doc, &[]).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].expect, vec!["say \"hi\"".to_string()]);
        let s = sections(&blocks[0], &["a", "b", "c"]).unwrap();
        assert_eq!(s[0], (vec!["a".to_string()], "echo 1    2".to_string()));
        assert_eq!(s[1].0, vec!["b".to_string(), "c".to_string()]);
        assert_eq!(inline[0].text, "phalanx status --rpc URL");
        assert!(
            parse("d.md", "```sh\nls\n```\n", &[]).is_err(),
            "unannotated"
        );
    }
}
