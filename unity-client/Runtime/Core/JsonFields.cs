using System;
using System.Collections.Generic;
using System.Globalization;

namespace VrStream.Client
{
    /// <summary>
    /// Typed reads of a parsed JSON object (<see cref="Json.ParseObject"/>). A missing or
    /// mistyped required field is a <see cref="FormatException"/> naming it, so that a response
    /// that does not match the contract fails loudly instead of turning into defaults.
    /// </summary>
    internal static class JsonFields
    {
        public static string RequiredString(IDictionary<string, object> json, string name)
        {
            var value = OptionalString(json, name);
            if (value == null) throw Missing(name, "a string");
            return value;
        }

        public static string OptionalString(IDictionary<string, object> json, string name)
        {
            object value;
            if (!json.TryGetValue(name, out value) || value == null) return null;
            var text = value as string;
            if (text == null) throw Missing(name, "a string");
            return text;
        }

        public static bool RequiredBool(IDictionary<string, object> json, string name)
        {
            object value;
            if (!json.TryGetValue(name, out value) || !(value is bool)) throw Missing(name, "true or false");
            return (bool)value;
        }

        public static double? OptionalNumber(IDictionary<string, object> json, string name)
        {
            object value;
            if (!json.TryGetValue(name, out value) || value == null) return null;
            if (!(value is double)) throw Missing(name, "a number");
            return (double)value;
        }

        public static long RequiredLong(IDictionary<string, object> json, string name)
        {
            var value = OptionalNumber(json, name);
            if (value == null) throw Missing(name, "a number");
            return (long)value.Value;
        }

        public static DateTimeOffset RequiredTime(IDictionary<string, object> json, string name)
        {
            var value = OptionalTime(json, name);
            if (value == null) throw Missing(name, "a timestamp");
            return value.Value;
        }

        public static DateTimeOffset? OptionalTime(IDictionary<string, object> json, string name)
        {
            var text = OptionalString(json, name);
            if (text == null) return null;
            DateTimeOffset time;
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time))
            {
                throw Missing(name, "an ISO 8601 timestamp");
            }
            return time;
        }

        public static IDictionary<string, object> RequiredObject(IDictionary<string, object> json, string name)
        {
            var value = OptionalObject(json, name);
            if (value == null) throw Missing(name, "an object");
            return value;
        }

        public static IDictionary<string, object> OptionalObject(IDictionary<string, object> json, string name)
        {
            object value;
            if (!json.TryGetValue(name, out value) || value == null) return null;
            var dictionary = value as IDictionary<string, object>;
            if (dictionary == null) throw Missing(name, "an object");
            return dictionary;
        }

        public static IList<object> RequiredArray(IDictionary<string, object> json, string name)
        {
            object value;
            json.TryGetValue(name, out value);
            var list = value as IList<object>;
            if (list == null) throw Missing(name, "an array");
            return list;
        }

        public static IReadOnlyDictionary<string, string> StringMap(IDictionary<string, object> json, string name)
        {
            var map = RequiredObject(json, name);
            var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var pair in map)
            {
                var text = pair.Value as string;
                if (text == null) throw Missing(name + "." + pair.Key, "a string");
                result[pair.Key] = text;
            }
            return result;
        }

        private static FormatException Missing(string name, string what)
        {
            return new FormatException("Cannot read the response: field '" + name + "' is not " + what + ".");
        }
    }
}
