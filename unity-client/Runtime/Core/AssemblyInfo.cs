using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("VrStream.Client.Tests.Core")]
