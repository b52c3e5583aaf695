'use strict';
// Text the Python runtime writes with its own formatting (f"{x:g}", {value!r}), reproduced exactly so
// results, errors and logs read the same from both runtimes.

/** A finite double's exact value as [digits, exponent]: x = BigInt(digits) * 10 ** exponent, x > 0. */
function exactDecimal(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const high = view.getUint32(0);
  const biased = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  let power = biased - 1075; // x = mantissa * 2 ** power
  if (biased === 0) power = -1074; // subnormal
  else mantissa |= 1n << 52n;
  if (power >= 0) return [(mantissa << BigInt(power)).toString(), 0];
  // m / 2^k = m * 5^k / 10^k
  return [(mantissa * 5n ** BigInt(-power)).toString(), power];
}

/**
 * C's %g (Python's f"{x:g}", or f"{x:.3g}" with precision 3): `precision` significant digits, rounded
 * half to even on the exact binary value as Python does (123456.5 → "123456", not "123457"), trailing
 * zeros dropped, scientific notation below 1e-4 and from 10 ** precision on ("1.23457e+06").
 */
function formatG(value, precision = 6) {
  const x = Number(value);
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  if (x === 0) return `${sign}0`;
  const p = Math.max(1, precision);
  let [digits, power] = exactDecimal(Math.abs(x));
  digits = digits.replace(/0+$/, (zeros) => {
    power += zeros.length;
    return '';
  });
  let exponent = digits.length - 1 + power; // of the leading digit
  if (digits.length > p) {
    let head = digits.slice(0, p);
    const rest = digits.slice(p);
    const tie = rest[0] === '5' && /^5(0*)$/.test(rest);
    const up = rest[0] > '5' || (rest[0] === '5' && !tie) || (tie && Number(head[head.length - 1]) % 2 === 1);
    if (up) {
      head = (BigInt(head) + 1n).toString();
      if (head.length > p) {
        head = head.slice(0, p);
        exponent += 1;
      }
    }
    digits = head;
  }
  digits = digits.padEnd(p, '0');
  if (exponent < -4 || exponent >= p) {
    const fraction = digits.slice(1).replace(/0+$/, '');
    const mantissa = fraction ? `${digits[0]}.${fraction}` : digits[0];
    const shown = String(Math.abs(exponent)).padStart(2, '0');
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${shown}`;
  }
  let text;
  if (exponent < 0) text = `0.${'0'.repeat(-exponent - 1)}${digits}`;
  else text = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  text = text.replace(/0+$/, '').replace(/\.$/, '');
  return `${sign}${text}`;
}

// Characters Python's str.isprintable() refuses: categories C* and Z* other than the space.
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

/** Python's repr() of a string: quoted, with \\, \n, \t, \r and non-printable characters escaped. */
function pyRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const point = char.codePointAt(0);
    if (char === quote || char === '\\') out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (char !== ' ' && (point < 0x20 || point === 0x7f || NON_PRINTABLE.test(char))) {
      if (point < 0x100) out += `\\x${point.toString(16).padStart(2, '0')}`;
      else if (point < 0x10000) out += `\\u${point.toString(16).padStart(4, '0')}`;
      else out += `\\U${point.toString(16).padStart(8, '0')}`;
    } else out += char;
  }
  return out + quote;
}

module.exports = { formatG, pyRepr };
