using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace VrStream.Client
{
    /// <summary>
    /// A small JSON reader and writer, so that the core needs no serializer package (Unity's
    /// JsonUtility is engine code; Newtonsoft is an extra dependency). Objects read as
    /// <see cref="Dictionary{TKey,TValue}"/> of string to object, arrays as
    /// <see cref="List{T}"/> of object, numbers as double, plus string, bool and null.
    /// </summary>
    public static class Json
    {
        /// <summary>Parses one JSON value; throws <see cref="FormatException"/> on bad input.</summary>
        public static object Parse(string text)
        {
            if (text == null) throw new ArgumentNullException(nameof(text));
            var reader = new Reader(text);
            reader.SkipWhitespace();
            var value = reader.ReadValue(0);
            reader.SkipWhitespace();
            if (!reader.AtEnd) throw reader.Error("Unexpected text after the JSON value");
            return value;
        }

        /// <summary>Parses a JSON object; throws <see cref="FormatException"/> for anything else.</summary>
        public static IDictionary<string, object> ParseObject(string text)
        {
            var value = Parse(text) as IDictionary<string, object>;
            if (value == null) throw new FormatException("Cannot read the JSON: it is not an object.");
            return value;
        }

        /// <summary>
        /// Writes a value: dictionaries with string keys, lists, strings, bools, numbers, null.
        /// </summary>
        public static string Serialize(object value)
        {
            var builder = new StringBuilder();
            Write(builder, value);
            return builder.ToString();
        }

        private static void Write(StringBuilder builder, object value)
        {
            if (value == null)
            {
                builder.Append("null");
                return;
            }
            var text = value as string;
            if (text != null)
            {
                WriteString(builder, text);
                return;
            }
            if (value is bool)
            {
                builder.Append((bool)value ? "true" : "false");
                return;
            }
            if (value is int || value is long || value is short || value is byte || value is uint)
            {
                builder.Append(Convert.ToInt64(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture));
                return;
            }
            if (value is double || value is float || value is decimal)
            {
                var number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (double.IsNaN(number) || double.IsInfinity(number))
                {
                    throw new ArgumentException("Cannot write a JSON number: " + number + " is not finite.");
                }
                builder.Append(number.ToString("R", CultureInfo.InvariantCulture));
                return;
            }
            var dictionary = value as IDictionary<string, object>;
            if (dictionary != null)
            {
                builder.Append('{');
                var first = true;
                foreach (var pair in dictionary)
                {
                    if (!first) builder.Append(',');
                    first = false;
                    WriteString(builder, pair.Key);
                    builder.Append(':');
                    Write(builder, pair.Value);
                }
                builder.Append('}');
                return;
            }
            var list = value as IEnumerable;
            if (list != null)
            {
                builder.Append('[');
                var first = true;
                foreach (var item in list)
                {
                    if (!first) builder.Append(',');
                    first = false;
                    Write(builder, item);
                }
                builder.Append(']');
                return;
            }
            throw new ArgumentException("Cannot write a " + value.GetType().Name + " as JSON.");
        }

        private static void WriteString(StringBuilder builder, string text)
        {
            builder.Append('"');
            foreach (var c in text)
            {
                switch (c)
                {
                    case '"': builder.Append("\\\""); break;
                    case '\\': builder.Append("\\\\"); break;
                    case '\n': builder.Append("\\n"); break;
                    case '\r': builder.Append("\\r"); break;
                    case '\t': builder.Append("\\t"); break;
                    case '\b': builder.Append("\\b"); break;
                    case '\f': builder.Append("\\f"); break;
                    default:
                        // Control characters, and U+2028/U+2029 that some JavaScript parsers refuse.
                        if (c < 0x20 || c == '\u2028' || c == '\u2029')
                        {
                            builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            builder.Append(c);
                        }
                        break;
                }
            }
            builder.Append('"');
        }

        private sealed class Reader
        {
            private const int MaxDepth = 64;
            private readonly string _text;
            private int _position;

            public Reader(string text)
            {
                _text = text;
            }

            public bool AtEnd
            {
                get { return _position >= _text.Length; }
            }

            public FormatException Error(string what)
            {
                return new FormatException("Cannot read the JSON: " + what + " at character " + _position + ".");
            }

            public void SkipWhitespace()
            {
                while (_position < _text.Length)
                {
                    var c = _text[_position];
                    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
                    _position++;
                }
            }

            public object ReadValue(int depth)
            {
                if (depth > MaxDepth) throw Error("Nesting deeper than " + MaxDepth);
                if (AtEnd) throw Error("Unexpected end");
                var c = _text[_position];
                switch (c)
                {
                    case '{': return ReadObject(depth);
                    case '[': return ReadArray(depth);
                    case '"': return ReadString();
                    case 't': Expect("true"); return true;
                    case 'f': Expect("false"); return false;
                    case 'n': Expect("null"); return null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                        throw Error("Unexpected character '" + c + "'");
                }
            }

            private void Expect(string word)
            {
                if (string.CompareOrdinal(_text, _position, word, 0, word.Length) != 0)
                {
                    throw Error("Expected " + word);
                }
                _position += word.Length;
            }

            private Dictionary<string, object> ReadObject(int depth)
            {
                var result = new Dictionary<string, object>(StringComparer.Ordinal);
                _position++;
                SkipWhitespace();
                if (!AtEnd && _text[_position] == '}')
                {
                    _position++;
                    return result;
                }
                while (true)
                {
                    SkipWhitespace();
                    if (AtEnd || _text[_position] != '"') throw Error("Expected a property name");
                    var name = ReadString();
                    SkipWhitespace();
                    if (AtEnd || _text[_position] != ':') throw Error("Expected ':'");
                    _position++;
                    SkipWhitespace();
                    result[name] = ReadValue(depth + 1);
                    SkipWhitespace();
                    if (AtEnd) throw Error("Unexpected end in an object");
                    var c = _text[_position++];
                    if (c == '}') return result;
                    if (c != ',') throw Error("Expected ',' or '}'");
                }
            }

            private List<object> ReadArray(int depth)
            {
                var result = new List<object>();
                _position++;
                SkipWhitespace();
                if (!AtEnd && _text[_position] == ']')
                {
                    _position++;
                    return result;
                }
                while (true)
                {
                    SkipWhitespace();
                    result.Add(ReadValue(depth + 1));
                    SkipWhitespace();
                    if (AtEnd) throw Error("Unexpected end in an array");
                    var c = _text[_position++];
                    if (c == ']') return result;
                    if (c != ',') throw Error("Expected ',' or ']'");
                }
            }

            private string ReadString()
            {
                _position++;
                var builder = new StringBuilder();
                while (true)
                {
                    if (AtEnd) throw Error("Unterminated string");
                    var c = _text[_position++];
                    if (c == '"') return builder.ToString();
                    if (c < 0x20) throw Error("Control character in a string");
                    if (c != '\\')
                    {
                        builder.Append(c);
                        continue;
                    }
                    if (AtEnd) throw Error("Unterminated escape");
                    var escape = _text[_position++];
                    switch (escape)
                    {
                        case '"': builder.Append('"'); break;
                        case '\\': builder.Append('\\'); break;
                        case '/': builder.Append('/'); break;
                        case 'b': builder.Append('\b'); break;
                        case 'f': builder.Append('\f'); break;
                        case 'n': builder.Append('\n'); break;
                        case 'r': builder.Append('\r'); break;
                        case 't': builder.Append('\t'); break;
                        case 'u':
                            if (_position + 4 > _text.Length) throw Error("Short \\u escape");
                            int code;
                            if (!int.TryParse(_text.Substring(_position, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                            {
                                throw Error("Bad \\u escape");
                            }
                            builder.Append((char)code);
                            _position += 4;
                            break;
                        default:
                            throw Error("Unknown escape '\\" + escape + "'");
                    }
                }
            }

            private double ReadNumber()
            {
                var start = _position;
                if (_text[_position] == '-') _position++;
                while (!AtEnd && "0123456789.eE+-".IndexOf(_text[_position]) >= 0) _position++;
                double number;
                if (!double.TryParse(_text.Substring(start, _position - start), NumberStyles.Float, CultureInfo.InvariantCulture, out number))
                {
                    _position = start;
                    throw Error("Bad number");
                }
                return number;
            }
        }
    }
}
