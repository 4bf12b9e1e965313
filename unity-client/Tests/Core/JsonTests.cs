using System;
using System.Collections.Generic;
using NUnit.Framework;

namespace VrStream.Client.Tests
{
    [TestFixture]
    public class JsonTests
    {
        [Test]
        public void ParsesTheContractsShapes()
        {
            var json = Json.ParseObject("{\"a\":[1,2.5,-3e2],\"b\":{\"c\":null,\"d\":true},\"e\":\"x\\\"\\u00e9\\n\"}");
            var list = (IList<object>)json["a"];
            CollectionAssert.AreEqual(new object[] { 1.0, 2.5, -300.0 }, list);
            var b = (IDictionary<string, object>)json["b"];
            Assert.IsNull(b["c"]);
            Assert.AreEqual(true, b["d"]);
            Assert.AreEqual("x\"\u00e9\n", json["e"]);
        }

        [Test]
        public void WritesWhatItReads()
        {
            var value = new Dictionary<string, object>
            {
                { "title", "Beat \"Saber\"\u2028\n" },
                { "record", false },
                { "size", 524288000L },
                { "list", new List<object> { 1, "two", null } },
            };
            var text = Json.Serialize(value);
            Assert.IsFalse(text.Contains("\u2028"), "U+2028 is escaped");
            var back = Json.ParseObject(text);
            Assert.AreEqual("Beat \"Saber\"\u2028\n", back["title"]);
            Assert.AreEqual(false, back["record"]);
            Assert.AreEqual(524288000.0, back["size"]);
            Assert.AreEqual(3, ((IList<object>)back["list"]).Count);
        }

        [Test]
        public void RefusesMalformedJson()
        {
            foreach (var bad in new[] { "", "{", "{\"a\":}", "[1,]", "{\"a\":1} x", "tru", "\"\\q\"", "{'a':1}" })
            {
                Assert.Throws<FormatException>(() => Json.Parse(bad), bad);
            }
            Assert.Throws<FormatException>(() => Json.ParseObject("[1]"));
        }

        [Test]
        public void RefusesNestingDeeperThanItsLimit()
        {
            var deep = new string('[', 200) + new string(']', 200);
            Assert.Throws<FormatException>(() => Json.Parse(deep));
        }
    }
}
