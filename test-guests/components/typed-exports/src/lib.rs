//! `typed-exports`: a test component exporting plain typed functions (world
//! `fdo-test:typed/typed` in `wit/world.wit`), for the host's JSON <-> WIT mapping.
//!
//! No fdo SDK and no RPC interface: the host calls these functions by name, with JSON
//! parameters converted to WIT values. Each function computes something checkable.

// The generated lowering of `oldest`/`rosters` takes more arguments than clippy likes.
#![allow(clippy::too_many_arguments)]

use exports::fdo_test::typed::math::{self, Point};

wit_bindgen::generate!({
    path: "wit",
    world: "typed",
});

/// The component: implements the world's functions and the `math` interface.
struct TypedExports;

/// Largest value of `mod` in Adler-32.
const ADLER_MOD: u32 = 65521;

impl Guest for TypedExports {
    fn add(a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }

    fn echo(s: String) -> String {
        s
    }

    fn negate(b: bool) -> bool {
        !b
    }

    fn widen(a: u8, b: u16, c: u32) -> u64 {
        u64::from(a) + u64::from(b) + u64::from(c)
    }

    fn subtract(a: i64, b: i64) -> i64 {
        a.wrapping_sub(b)
    }

    fn half(x: f32) -> f32 {
        x / 2.0
    }

    fn hypot(x: f64, y: f64) -> f64 {
        // Not `f64::hypot`: it links libm's `hypot` from Debian's wasi-libc, which never
        // returns when built with the offline build-std recipe. `sqrt` is a wasm instruction.
        (x * x + y * y).sqrt()
    }

    fn next_char(c: char) -> char {
        let mut code = u32::from(c).wrapping_add(1);
        if (0xD800..=0xDFFF).contains(&code) {
            code = 0xE000;
        }
        char::from_u32(code).unwrap_or('\0')
    }

    fn count(items: Vec<String>) -> u32 {
        u32::try_from(items.len()).unwrap_or(u32::MAX)
    }

    fn sum(values: Vec<i32>) -> i64 {
        values.iter().map(|v| i64::from(*v)).sum()
    }

    fn double_all(values: Vec<u16>) -> Vec<u32> {
        values.iter().rev().map(|v| u32::from(*v) * 2).collect()
    }

    fn maybe_double(x: Option<i32>) -> Option<i32> {
        x.and_then(|x| x.checked_mul(2))
    }

    fn divide(a: i32, b: i32) -> Result<i32, String> {
        a.checked_div(b)
            .ok_or_else(|| format!("cannot divide {a} by {b}"))
    }

    fn parse_color(name: String) -> Result<Color, ParseError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "" => Err(ParseError::Empty),
            "red" => Ok(Color::Red),
            "green" => Ok(Color::Green),
            "blue" => Ok(Color::Blue),
            _ => Err(ParseError::Unknown(name)),
        }
    }

    fn next_color(c: Color) -> Color {
        match c {
            Color::Red => Color::Green,
            Color::Green => Color::Blue,
            Color::Blue => Color::Red,
        }
    }

    fn swap(pair: (String, u32)) -> (u32, String) {
        (pair.1, pair.0)
    }

    fn describe(p: Person) -> String {
        match p.email_address {
            Some(email) => format!("{} ({}) <{email}>", p.full_name, p.age),
            None => format!("{} ({})", p.full_name, p.age),
        }
    }

    fn birthday(mut p: Person) -> Person {
        p.age = p.age.saturating_add(1);
        p.tags.push("birthday".to_string());
        p
    }

    fn area(s: Shape) -> f64 {
        match s {
            Shape::Circle(radius) => std::f64::consts::PI * radius * radius,
            Shape::Rectangle((width, height)) => width * height,
            Shape::Square(side) => side * side,
            Shape::Dot => 0.0,
        }
    }

    fn toggle(p: Permissions) -> Permissions {
        Permissions::all() - p
    }

    fn checksum(data: Vec<u8>) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for byte in data {
            a = (a + u32::from(byte)) % ADLER_MOD;
            b = (b + a) % ADLER_MOD;
        }
        (b << 16) | a
    }

    fn invert(data: Vec<u8>) -> Vec<u8> {
        data.into_iter().map(|b| !b).collect()
    }

    fn oldest(teams: Vec<Team>) -> Option<Person> {
        teams
            .into_iter()
            .flat_map(|team| team.members)
            .reduce(|oldest, p| if p.age > oldest.age { p } else { oldest })
    }

    fn rosters(teams: Vec<Team>) -> Vec<(String, Vec<String>)> {
        teams
            .into_iter()
            .map(|team| {
                let names = team.members.into_iter().map(|p| p.full_name).collect();
                (team.name, names)
            })
            .collect()
    }

    fn stats(values: Vec<i64>) -> Stats {
        let sum = values.iter().fold(0i64, |acc, v| acc.saturating_add(*v));
        let mean = if values.is_empty() {
            0.0
        } else {
            values.iter().map(|v| *v as f64).sum::<f64>() / values.len() as f64
        };
        Stats {
            count: u32::try_from(values.len()).unwrap_or(u32::MAX),
            sum,
            min: values.iter().min().copied(),
            max: values.iter().max().copied(),
            mean,
        }
    }

    fn check(ok: bool) -> Result<(), ()> {
        if ok { Ok(()) } else { Err(()) }
    }

    fn noop() {}
}

impl math::Guest for TypedExports {
    fn gcd(a: u64, b: u64) -> u64 {
        let (mut a, mut b) = (a, b);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }

    fn mean(values: Vec<f64>) -> Option<f64> {
        if values.is_empty() {
            None
        } else {
            Some(values.iter().sum::<f64>() / values.len() as f64)
        }
    }

    fn distance(a: Point, b: Point) -> f64 {
        Self::hypot(a.x - b.x, a.y - b.y)
    }

    fn midpoint(a: Point, b: Point) -> Point {
        Point {
            x: (a.x + b.x) / 2.0,
            y: (a.y + b.y) / 2.0,
        }
    }
}

export!(TypedExports);
