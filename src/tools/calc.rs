//! Built-in `calculator`: arithmetic on an expression string with a small recursive-descent parser (no
//! eval, no variables): `+ - * / % ^`, parentheses, unary minus, the constants `pi` and `e`, and the
//! functions sqrt, abs, ln, log (base 10), exp, sin, cos, tan, floor, ceil, round, min, max. Input length
//! and nesting depth are bounded, and a non-finite result (1/0) is an error, not `inf`.

use serde_json::{json, Value};

use super::{Tool, ToolError, ToolFuture, ToolOutput};

/// Longest expression taken, in bytes.
pub const MAX_LEN: usize = 256;
/// Deepest nesting of parentheses, unary signs and powers.
pub const MAX_DEPTH: usize = 32;

/// See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Calculator;

/// Evaluates `expr`; the error says what is wrong and where.
pub fn evaluate(expr: &str) -> Result<f64, String> {
    if expr.len() > MAX_LEN {
        return Err(format!("the expression is longer than {MAX_LEN} characters"));
    }
    let mut p = Parser {
        s: expr.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let v = p.expr()?;
    p.skip_ws();
    if p.pos < p.s.len() {
        return Err(format!("unexpected {:?} at position {}", p.s[p.pos] as char, p.pos + 1));
    }
    if !v.is_finite() {
        return Err("the result is not a finite number (division by zero or overflow)".into());
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn nest<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the expression nests deeper than {MAX_DEPTH} levels"));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn expr(&mut self) -> Result<f64, String> {
        let mut v = self.term()?;
        loop {
            if self.eat(b'+') {
                v += self.term()?;
            } else if self.eat(b'-') {
                v -= self.term()?;
            } else {
                return Ok(v);
            }
        }
    }

    fn term(&mut self) -> Result<f64, String> {
        let mut v = self.unary()?;
        loop {
            if self.eat(b'*') {
                v *= self.unary()?;
            } else if self.eat(b'/') {
                let d = self.unary()?;
                if d == 0.0 {
                    return Err("division by zero".into());
                }
                v /= d;
            } else if self.eat(b'%') {
                let d = self.unary()?;
                if d == 0.0 {
                    return Err("remainder by zero".into());
                }
                v %= d;
            } else {
                return Ok(v);
            }
        }
    }

    /// Unary signs bind looser than `^`: -2^2 is -4.
    fn unary(&mut self) -> Result<f64, String> {
        if self.eat(b'-') {
            return self.nest(|p| p.unary().map(|v| -v));
        }
        if self.eat(b'+') {
            return self.nest(|p| p.unary());
        }
        self.power()
    }

    /// `^` is right-associative: 2^3^2 is 2^9.
    fn power(&mut self) -> Result<f64, String> {
        let base = self.primary()?;
        if self.eat(b'^') {
            let exp = self.nest(|p| p.unary())?;
            return Ok(base.powf(exp));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let v = self.nest(|p| p.expr())?;
                if !self.eat(b')') {
                    return Err(format!("missing ')' at position {}", self.pos + 1));
                }
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() => self.name(),
            Some(c) => Err(format!("unexpected {:?} at position {}", c as char, self.pos + 1)),
            None => Err("the expression ends too early".into()),
        }
    }

    fn number(&mut self) -> Result<f64, String> {
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
            self.pos += 1;
        }
        // an exponent: 1e3, 2.5E-2
        if self.s.get(self.pos).is_some_and(|c| *c == b'e' || *c == b'E') {
            let mut end = self.pos + 1;
            if self.s.get(end).is_some_and(|c| *c == b'+' || *c == b'-') {
                end += 1;
            }
            if self.s.get(end).is_some_and(u8::is_ascii_digit) {
                self.pos = end;
                while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    self.pos += 1;
                }
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        text.parse::<f64>()
            .map_err(|_| format!("{text:?} at position {} is not a number", start + 1))
    }

    fn name(&mut self) -> Result<f64, String> {
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(u8::is_ascii_alphanumeric) {
            self.pos += 1;
        }
        let name = std::str::from_utf8(&self.s[start..self.pos])
            .unwrap_or("")
            .to_ascii_lowercase();
        match name.as_str() {
            "pi" => return Ok(std::f64::consts::PI),
            "e" => return Ok(std::f64::consts::E),
            _ => {}
        }
        if !self.eat(b'(') {
            return Err(format!("unknown name {name:?} at position {}", start + 1));
        }
        let args = self.nest(|p| {
            let mut args = vec![p.expr()?];
            while p.eat(b',') {
                args.push(p.expr()?);
            }
            Ok(args)
        })?;
        if !self.eat(b')') {
            return Err(format!("missing ')' after the arguments of {name}"));
        }
        apply(&name, &args)
    }
}

fn apply(name: &str, args: &[f64]) -> Result<f64, String> {
    let one = |f: fn(f64) -> f64| match args {
        [x] => Ok(f(*x)),
        _ => Err(format!("{name} takes one argument, not {}", args.len())),
    };
    match name {
        "sqrt" if args.first().is_some_and(|x| *x < 0.0) => Err("sqrt of a negative number".into()),
        "sqrt" => one(f64::sqrt),
        "abs" => one(f64::abs),
        "ln" => one(f64::ln),
        "log" => one(f64::log10),
        "exp" => one(f64::exp),
        "sin" => one(f64::sin),
        "cos" => one(f64::cos),
        "tan" => one(f64::tan),
        "floor" => one(f64::floor),
        "ceil" => one(f64::ceil),
        "round" => one(f64::round),
        "min" | "max" if args.is_empty() => Err(format!("{name} needs at least one argument")),
        "min" => Ok(args.iter().copied().fold(f64::INFINITY, f64::min)),
        "max" => Ok(args.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        _ => Err(format!("unknown function {name:?}")),
    }
}

impl Tool for Calculator {
    fn name(&self) -> &str {
        "calculator"
    }

    fn description(&self) -> &str {
        "Evaluates an arithmetic expression exactly: + - * / % ^, parentheses, pi, e, sqrt, abs, ln, log, exp, \
         sin, cos, tan, floor, ceil, round, min, max."
    }

    fn parameters(&self) -> Value {
        json!({"type": "object",
               "properties": {"expression": {"type": "string", "description": "e.g. (2 + 3) * sqrt(16)"}},
               "required": ["expression"]})
    }

    fn run(&self, args: Value) -> ToolFuture {
        Box::pin(async move {
            let expr = args
                .get("expression")
                .and_then(Value::as_str)
                .ok_or_else(|| ToolError::InvalidArgument("give the expression as a string".into()))?;
            let result = evaluate(expr).map_err(ToolError::InvalidArgument)?;
            Ok(ToolOutput::from_value(json!({"expression": expr, "result": result})))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_associativity_and_unary_minus() {
        assert_eq!(evaluate("1 + 2 * 3").unwrap(), 7.0);
        assert_eq!(evaluate("(1 + 2) * 3").unwrap(), 9.0);
        assert_eq!(evaluate("2 ^ 3 ^ 2").unwrap(), 512.0);
        assert_eq!(evaluate("-2 ^ 2").unwrap(), -4.0);
        assert_eq!(evaluate("--3").unwrap(), 3.0);
        assert_eq!(evaluate("10 - 4 - 3").unwrap(), 3.0);
        assert_eq!(evaluate("7 % 4").unwrap(), 3.0);
        assert_eq!(evaluate("2 * -3").unwrap(), -6.0);
        assert_eq!(evaluate("1.5e3 / 3").unwrap(), 500.0);
    }

    #[test]
    fn functions_and_constants() {
        assert_eq!(evaluate("sqrt(16) + abs(-2)").unwrap(), 6.0);
        assert_eq!(evaluate("max(1, 5, 3) - min(4, 2)").unwrap(), 3.0);
        assert!((evaluate("2 * pi").unwrap() - std::f64::consts::TAU).abs() < 1e-12);
        assert_eq!(evaluate("log(1000)").unwrap(), 3.0);
        assert_eq!(evaluate("round(2.5)").unwrap(), 3.0);
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert!(evaluate("1 / 0").unwrap_err().contains("division by zero"));
        assert!(evaluate("sqrt(-1)").unwrap_err().contains("negative"));
        assert!(evaluate("2 +").unwrap_err().contains("ends too early"));
        assert!(evaluate("(1 + 2").unwrap_err().contains("missing ')'"));
        assert!(evaluate("1 2").unwrap_err().contains("position 3"));
        assert!(evaluate("foo(1)").unwrap_err().contains("unknown function"));
        assert!(evaluate("x").unwrap_err().contains("unknown name"));
        assert!(evaluate("sqrt(1, 2)").unwrap_err().contains("one argument"));
        assert!(evaluate("10 ^ 400").unwrap_err().contains("finite"));
        assert!(evaluate("1; rm -rf /").is_err());
        assert!(evaluate("").is_err());
    }

    #[test]
    fn length_and_depth_are_bounded() {
        let long = "1+".repeat(200) + "1";
        assert!(evaluate(&long).unwrap_err().contains("longer than"));
        let deep = format!("{}1{}", "(".repeat(40), ")".repeat(40));
        assert!(evaluate(&deep).unwrap_err().contains("deeper than"));
        let minus = "-".repeat(100) + "1";
        assert!(evaluate(&minus).unwrap_err().contains("deeper than"));
        let ok = format!("{}1{}", "(".repeat(20), ")".repeat(20));
        assert_eq!(evaluate(&ok).unwrap(), 1.0);
    }

    #[tokio::test]
    async fn the_tool_wants_a_string_expression() {
        let out = Calculator.run(json!({"expression": "6*7"})).await.unwrap();
        assert_eq!(out.response["result"], 42.0);
        let err = Calculator.run(json!({"expression": 42})).await.unwrap_err();
        assert_eq!(err.status(), "INVALID_ARGUMENT");
    }
}
