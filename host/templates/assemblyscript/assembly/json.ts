// A small JSON reader and string writer: enough for a function's request and its answer.

export enum Kind { Null, Bool, Number, String, Array, Object }

export class Value {
  kind: Kind = Kind.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  items: Value[] = [];
  keys: string[] = [];

  // The member `key` of an object, or null.
  get(key: string): Value | null {
    if (this.kind != Kind.Object) return null;
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) return this.items[i];
    }
    return null;
  }
}

// Parses `text` as one JSON value; throws on anything else.
export function parse(text: string): Value {
  const p = new Parser(text);
  const v = p.value();
  p.space();
  if (p.pos != text.length) throw new Error("trailing characters after the JSON value");
  return v;
}

class Parser {
  pos: i32 = 0;
  depth: i32 = 0;
  constructor(public text: string) {}

  space(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  value(): Value {
    this.space();
    if (this.pos >= this.text.length) throw new Error("unexpected end of JSON");
    const c = this.text.charCodeAt(this.pos);
    const v = new Value();
    if (c == 0x7b /* { */ || c == 0x5b /* [ */) {
      if (++this.depth > 64) throw new Error("JSON nested too deeply");
      const close = c == 0x7b ? 0x7d : 0x5d;
      v.kind = c == 0x7b ? Kind.Object : Kind.Array;
      this.pos++;
      this.space();
      if (this.peek() == close) {
        this.pos++;
      } else {
        while (true) {
          if (v.kind == Kind.Object) {
            this.space();
            if (this.peek() != 0x22) throw new Error("expected a string key");
            v.keys.push(this.string());
            this.space();
            this.expect(0x3a /* : */);
          }
          v.items.push(this.value());
          this.space();
          if (this.peek() == 0x2c /* , */) { this.pos++; continue; }
          this.expect(close);
          break;
        }
      }
      this.depth--;
    } else if (c == 0x22) {
      v.kind = Kind.String;
      v.str = this.string();
    } else if (this.text.startsWith("true", this.pos)) {
      v.kind = Kind.Bool; v.bool = true; this.pos += 4;
    } else if (this.text.startsWith("false", this.pos)) {
      v.kind = Kind.Bool; this.pos += 5;
    } else if (this.text.startsWith("null", this.pos)) {
      this.pos += 4;
    } else {
      const start = this.pos;
      while (this.pos < this.text.length && "+-0123456789.eE".includes(this.text.charAt(this.pos))) this.pos++;
      if (start == this.pos) throw new Error("unexpected character in JSON");
      v.kind = Kind.Number;
      v.num = parseFloat(this.text.substring(start, this.pos));
    }
    return v;
  }

  peek(): i32 {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  expect(c: i32): void {
    if (this.peek() != c) throw new Error("expected '" + String.fromCharCode(c) + "'");
    this.pos++;
  }

  string(): string {
    this.pos++; // the opening quote
    let out = "";
    let start = this.pos;
    while (true) {
      if (this.pos >= this.text.length) throw new Error("unterminated string");
      const c = this.text.charCodeAt(this.pos);
      if (c == 0x22) break;
      if (c == 0x5c /* \ */) {
        out += this.text.substring(start, this.pos);
        const e = this.text.charCodeAt(this.pos + 1);
        this.pos += 2;
        if (e == 0x75 /* u */) {
          out += String.fromCharCode(<i32>parseInt(this.text.substr(this.pos, 4), 16));
          this.pos += 4;
        } else if (e == 0x6e) out += "\n";
        else if (e == 0x74) out += "\t";
        else if (e == 0x72) out += "\r";
        else if (e == 0x62) out += "\b";
        else if (e == 0x66) out += "\f";
        else out += String.fromCharCode(e);
        start = this.pos;
      } else {
        this.pos++;
      }
    }
    out += this.text.substring(start, this.pos);
    this.pos++; // the closing quote
    return out;
  }
}

// `s` as a JSON string literal.
export function quote(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x0a) out += "\\n";
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}
