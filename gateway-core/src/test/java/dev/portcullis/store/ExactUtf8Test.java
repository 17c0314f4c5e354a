package dev.portcullis.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.protocol.CommandArgs;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The store's codec tells Lettuce each argument's exact length, and the command Lettuce writes says the same. */
class ExactUtf8Test {

    @ParameterizedTest
    @ValueSource(strings = {"", "rl:abc", "{\"who\":\"Zoë Ångström\"}", "日本語のツール", "emoji 🔐 key", "lone \uD800 surrogate"})
    void theLengthGivenIsTheLengthWritten(String text) {
        ByteBuf written = Unpooled.buffer();
        RedisStore.ExactUtf8.CODEC.encodeValue(text, written);
        assertThat(RedisStore.ExactUtf8.CODEC.estimateSize(text)).isEqualTo(written.readableBytes());
        assertThat(RedisStore.ExactUtf8.CODEC.isEstimateExact()).isTrue();

        // The bulk string Lettuce frames with that length: "$<n>\r\n<bytes>\r\n".
        ByteBuf command = Unpooled.buffer();
        new CommandArgs<>(RedisStore.ExactUtf8.CODEC).addValue(text).encode(command);
        byte[] bytes = new byte[written.readableBytes()];
        written.getBytes(0, bytes);
        String expected = "$" + bytes.length + "\r\n" + new String(bytes, StandardCharsets.UTF_8) + "\r\n";
        assertThat(command.toString(StandardCharsets.UTF_8)).isEqualTo(expected);
        if (!text.contains("\uD800")) {
            assertThat(new String(bytes, StandardCharsets.UTF_8)).isEqualTo(text);
        }
    }
}
